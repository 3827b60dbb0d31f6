"""Realtime: the /ws protocol, the connection registry and fan-out between processes."""
