"""The live channel: the event state every phone is shown, actions back, and receipts."""
