"""Header decoding of the link, network and transport layers (the per-packet hot path)."""

from analyzer.decode.packet import DecodeStats, PacketDecoder, Segment

__all__ = ["DecodeStats", "PacketDecoder", "Segment"]
