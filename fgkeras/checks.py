"""Argument checks shared by every module: one wording for one mistake.

A leaf module (it imports nothing from fgkeras), so layers, models, data,
training and export all use it without import cycles.
"""

from __future__ import annotations

import numbers


def check_int(name: str, value, minimum: int = 1, allow_none: bool = False):
    """Return ``value`` if it is an integer >= ``minimum`` (or None when allowed).

    Booleans are refused although Python counts them as integers.

    Args:
        name: the argument's name, for the message.
        value: what the caller passed.
        minimum: smallest allowed value. Defaults to 1.
        allow_none: accept None too. Defaults to False.

    >>> check_int("epochs", 3)
    3
    >>> check_int("limit", None, allow_none=True) is None
    True
    >>> check_int("epochs", 0)
    Traceback (most recent call last):
    ...
    ValueError: `epochs` must be a positive integer. Received: epochs=0
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        suffix = " or None" if allow_none else ""
        raise ValueError(f"`{name}` must be {kind}{suffix}. Received: {name}={value!r}")
    return int(value)
