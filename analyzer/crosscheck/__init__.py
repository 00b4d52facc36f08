"""Our dissection against tshark's, frame by frame: `compare` runs both and explains every
known difference; `tshark` runs tshark and reads its PDML."""
