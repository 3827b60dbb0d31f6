"""Webhooks: every host-stream message POSTed to the endpoints that want it, signed, in order."""
