"""Strings from data (method names, instructions, video ids) made harmless in what we write.

Two jobs, one function each, used by every writer:

- :func:`neutral_bidi`: bidirectional control characters (U+202A-U+202E, U+2066-U+2069, U+200E,
  U+200F, U+061C) can make a table cell or a page display text in another order than it is
  stored ("Trojan Source"): a method name could appear to be another one. Each is replaced by its
  visible escape, e.g. ``\\u202e``, in HTML, Markdown, LaTeX and CSV. Names are shown, not
  reshaped: the escape makes the character visible instead of silently dropping it.
- :func:`csv_cell`: a spreadsheet runs a cell that begins with ``=``, ``+``, ``-``, ``@``, tab
  or carriage return as a formula (CSV injection). As OWASP recommends, such a text cell gets a
  leading single quote; plain numbers (``-0.12``, a negative Decay) stay numbers.
"""

from __future__ import annotations

import re
from typing import Any

#: the bidirectional formatting characters of Unicode (embeddings, overrides, isolates, marks)
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
#: first characters that make a spreadsheet read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutral_bidi(text: str) -> str:
    """Replace every bidirectional control character by its visible escape (``\\u202e``)."""
    return _BIDI.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def csv_cell(value: Any) -> Any:
    """A CSV cell no spreadsheet runs as a formula; non-strings and plain numbers are unchanged."""
    if not isinstance(value, str):
        return value
    text = neutral_bidi(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
