"""JSON that a client sent: parsed with a bound on nesting, so no shape of it can crash a handler.

Python's parser and encoder recurse once per level: `[[[[…` a thousand deep raises
RecursionError, and a document just under that depth parses but breaks the next json.dumps
made deeper in the stack. Both are refused here, as a ValueError like any other bad JSON.
This module imports nothing of rollcall, so the HTTP routes and /ws can share it.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
"""The deepest nesting of arrays and objects accepted anywhere (the body itself is level 1)."""


class BadJSON(ValueError):
    """The text is not JSON, or it is nested deeper than MAX_DEPTH."""


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed value (0 for a scalar); no recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_depth(value: Any) -> Any:
    """The value itself, or BadJSON when it nests deeper than MAX_DEPTH."""
    if depth(value) > MAX_DEPTH:
        raise BadJSON(f"JSON nested more than {MAX_DEPTH} levels deep")
    return value


def unstorable(value: Any) -> str | None:
    """Why PostgreSQL's jsonb could not store this parsed value, or None when it can.

    Nested deeper than MAX_DEPTH, a NUL character in a key or a string (jsonb refuses
    \\u0000), or a number that is not finite (Python reads NaN, Infinity and 1e999; JSON has
    none of them). Said before a query is made, so that a client's value is never a 500.
    """
    if depth(value) > MAX_DEPTH:
        return f"it must not nest more than {MAX_DEPTH} levels deep"
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "keys and strings must not contain the NUL character"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "numbers must be finite (no NaN or Infinity)"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def size(value: Any) -> int:
    """The bytes of a value as compact JSON in UTF-8: what the size limits count."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def loads(text: str | bytes) -> Any:
    """json.loads, but any bad input, nesting too deep included, is a BadJSON."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise BadJSON(f"JSON nested more than {MAX_DEPTH} levels deep") from exc
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes
        raise BadJSON(f"not JSON: {exc}") from exc
    return check_depth(value)
