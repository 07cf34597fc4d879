"""Text for the terminal: control characters from the data shown, never obeyed.

CRM names and notes are data from elsewhere: an ANSI or OSC escape sequence in an account name
would clear the screen, recolour it or plant a hyperlink, and a line break would print fake
output lines. Every line the CLI prints from data goes through `safe_line`, which shows each C0
and C1 control character (line breaks and ESC included) and each bidirectional override as an
escape such as `\\x1b` or `\\u202e`: visible, inert, and still telling what was there.
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match) -> str:
    char = match.group(0)
    return f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}"


def safe_line(text: str) -> str:
    """One output line with every control character escaped (tabs too: columns stay aligned)."""
    return _CONTROL.sub(_escape, text)


def safe_lines(lines: list[str]) -> str:
    """Lines as one printable block: each escaped, then joined by real line breaks."""
    return "\n".join(safe_line(line) for line in lines)
