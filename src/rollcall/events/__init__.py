"""Events: create, read, update, the QR code."""
