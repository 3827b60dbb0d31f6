"""Presence: heartbeats, presence states and the sweep that reports their changes."""
