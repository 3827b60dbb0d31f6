"""Presence as the host sees it, computed in SQL from status, away and last_heartbeat."""

from __future__ import annotations

from typing import Literal

Presence = Literal["online", "away", "offline", "left", "kicked"]


def presence_sql(alias: str = "p", timeout_param: str = "$2") -> str:
    """A SQL expression for a participant row's presence; timeout_param holds seconds."""
    return f"""CASE
        WHEN {alias}.status IN ('left', 'kicked') THEN {alias}.status
        WHEN {alias}.away THEN 'away'
        WHEN {alias}.last_heartbeat >= now() - make_interval(secs => {timeout_param}) THEN 'online'
        ELSE 'offline' END"""
