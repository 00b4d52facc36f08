"""Capture sources: files (pcap, pcapng), live interfaces and the tshark engine."""

from analyzer.capture.pcapfile import CaptureError, CaptureReader, RawPacket, open_capture

__all__ = ["CaptureError", "CaptureReader", "RawPacket", "open_capture"]
