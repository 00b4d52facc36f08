"""The OSI-layered model: records per layer and the anomaly registry."""

__all__: list[str] = []
