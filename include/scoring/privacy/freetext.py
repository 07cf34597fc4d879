"""Erased addresses in free text: found by their salted hashes, whatever form the text gives them.

The suppression list keeps only hashes, so an erased address is found in a note, a URL, a
referrer or a parse-error message by taking every address-like token of the text, normalising
it the way the pipeline does (lower case, `+tag` dropped) and hashing it with the lake's salt.
Each token is tried as written, with its domain's IDN labels decoded (`xn--bcher-kva.de` is
`bücher.de`) and encoded, and in percent-decoded text (`x%2Bnews%40acme.com`). A match becomes
[erased], together with its display name (`"Jane Doe" <jane@acme.com>`).

Only cells holding `@` or `%40` are looked at (an Arrow kernel picks them), and each distinct
value once: no Python loop over the rows of a day.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import flat

REDACTED = "[erased]"
_TOKEN = r"[^\s<>\"'(),;:/?&=#\[\]@]"
ADDRESS = re.compile(
    r"(?:\"?(?P<name>[^\"<>@,;:\n\[\]]{1,80}?)\"?\s*<)?"
    rf"(?P<email>{_TOKEN}+@{_TOKEN}+\.{_TOKEN}+?)\.?"
    r"(?(name)>|(?=$|[^a-zA-Z0-9_-]))"
)
_CANDIDATE = r"(?i)@|%40"


def address_forms(token: str) -> set[str]:
    """A token's normalised forms as the pipeline compares addresses: lower case, no `+tag`, the
    domain as written, with IDN labels decoded to Unicode, and encoded to punycode."""
    local, _, domain = token.strip().lower().rstrip(".").rpartition("@")
    local = local.split("+", 1)[0]
    if not local or not domain:
        return set()
    forms = {f"{local}@{domain}"}
    for convert in (_idn_decode, _idn_encode):
        other = convert(domain)
        if other:
            forms.add(f"{local}@{other}")
    return forms


def _idn_decode(domain: str) -> str | None:
    try:
        return ".".join(
            label.encode("ascii").decode("idna") if label.startswith("xn--") else label for label in domain.split(".")
        )
    except (UnicodeError, ValueError):
        return None


def _idn_encode(domain: str) -> str | None:
    try:
        return domain.encode("idna").decode("ascii")
    except (UnicodeError, ValueError):
        return None


def redact_text(text: str, erased: Callable[[str], bool]) -> tuple[str, int]:
    """`text` with every address `erased` says is erased (and its display name) replaced by
    [erased]; also in the percent-decoded text (then returned decoded). Returns (text, matches)."""

    def one(value: str) -> tuple[str, int]:
        hits = 0

        def replace(match: re.Match) -> str:
            nonlocal hits
            if any(erased(form) for form in address_forms(match.group("email"))):
                hits += 1
                return REDACTED
            return match.group(0)

        return ADDRESS.sub(replace, value), hits

    redacted, hits = one(text)
    if "%" in redacted:
        decoded = unquote(redacted)
        again, more = one(decoded)
        if more:
            return again, hits + more
    return redacted, hits


def redact_column(column: pa.ChunkedArray | pa.Array, erased: Callable[[str], bool]) -> tuple[pa.Array, int]:
    """A text column with erased addresses redacted (only cells holding `@` or `%40` are read,
    each distinct value once); returns (column, cells changed)."""
    column = flat(column)
    if not len(column) or column.null_count == len(column):
        return column, 0
    candidate = pc.fill_null(pc.match_substring_regex(column, _CANDIDATE), False).to_numpy(zero_copy_only=False)
    idx = np.flatnonzero(candidate)
    if not len(idx):
        return column, 0
    values = column.take(pa.array(idx)).to_pylist()
    done = {v: redact_text(v, erased)[0] for v in set(values)}
    new = [done[v] for v in values]
    changed = np.array([a != b for a, b in zip(values, new)], dtype=bool)
    if not changed.any():
        return column, 0
    mask = np.zeros(len(column), bool)
    mask[idx[changed]] = True
    replacements = pa.array([v for v, c in zip(new, changed) if c], column.type)
    return pc.replace_with_mask(column, pa.array(mask), replacements), int(changed.sum())


def redact_table(table: pa.Table, erased: Callable[[str], bool]) -> tuple[pa.Table, int]:
    """Every text column of `table` with erased addresses redacted; returns (table, cells changed)."""
    cells = 0
    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column, n = redact_column(table.column(i), erased)
            if n:
                table = table.set_column(i, field, column)
                cells += n
    return table, cells
