"""Participants: join, rejoin, leave, kick and state."""
