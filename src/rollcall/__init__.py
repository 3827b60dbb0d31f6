"""rollcall: participant identity and live presence for live events."""

__version__ = "0.1.0"
