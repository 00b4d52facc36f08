"""Writers of the analysis: JSON document, JSON Lines, CSV, HAR, pcap slices."""

__all__: list[str] = []
