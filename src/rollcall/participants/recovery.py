"""Recovery codes: what a participant types on a new phone to take their seat along.

The database derives each code (an HMAC of the event's secret, the participant's id and a
generation counter; revision 0006) as a number below 30^8 and stores only its digest. Here
the number is written as 8 characters of the event-code alphabet, ABCD-EFGH, and read back.
"""

from __future__ import annotations

import hashlib

ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 8


def code_of(number: int) -> str:
    """The code for the database's number, as shown: ABCD-EFGH."""
    digits = []
    for _ in range(LENGTH):
        number, digit = divmod(number, len(ALPHABET))
        digits.append(ALPHABET[digit])
    code = "".join(reversed(digits))
    return f"{code[:4]}-{code[4:]}"


def number_of(typed: str) -> int:
    """The number a typed code stands for (any case, spaces and one dash allowed).

    Raises ValueError when it cannot be a code.
    """
    code = typed.strip().upper().replace("-", "", 1).replace(" ", "")
    if len(code) != LENGTH or any(ch not in ALPHABET for ch in code):
        raise ValueError(f"a recovery code is {LENGTH} characters of {ALPHABET}, written ABCD-EFGH")
    number = 0
    for ch in code:
        number = number * len(ALPHABET) + ALPHABET.index(ch)
    return number


def digest_of(number: int) -> bytes:
    """What the database stores to find the code's participant (its rollcall_recovery_digest)."""
    return hashlib.sha256(number.to_bytes(8, "big", signed=True)).digest()
