"""Reverse IP: longest-prefix match of addresses against the reference CIDR ranges, vectorised.

Ranges are parsed once with the standard library's `ipaddress`. Addresses are matched per
distinct prefix length present in the ranges, longest first, with integer masks and a join, so
the cost is (distinct prefix lengths) x (distinct addresses), never a Python loop per event.
IPv4 addresses are parsed vectorised; IPv6 ones (rare) per distinct value with `ipaddress`.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import positions


def _parse_v4(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = pa.array(values.to_numpy(dtype=object), pa.string())
    parts = pc.extract_regex(arr, r"^(?P<a>\d{1,3})\.(?P<b>\d{1,3})\.(?P<c>\d{1,3})\.(?P<d>\d{1,3})$")
    ok = np.asarray(pc.is_valid(parts).to_numpy(zero_copy_only=False), dtype=bool)
    nums = (
        np.stack(
            [
                np.asarray(
                    pc.cast(pc.fill_null(pc.struct_field(parts, name), "0"), pa.int64()).to_numpy(zero_copy_only=False)
                )
                for name in "abcd"
            ],
            axis=1,
        )
        if len(arr)
        else np.zeros((0, 4), np.int64)
    )
    ok &= (nums <= 255).all(axis=1)
    ints = (nums[:, 0] << 24) | (nums[:, 1] << 16) | (nums[:, 2] << 8) | nums[:, 3]
    return ints.astype(np.uint64), ok


def _parse_v6(values: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hi = np.zeros(len(values), np.uint64)
    lo = np.zeros(len(values), np.uint64)
    ok = np.zeros(len(values), bool)
    for i, text in enumerate(values):
        try:
            addr = ipaddress.IPv6Address(text)
        except ValueError:
            continue
        n = int(addr)
        hi[i], lo[i], ok[i] = n >> 64, n & 0xFFFFFFFFFFFFFFFF, True
    return hi, lo, ok


_OCTET = r"(?:0|[1-9]\d{0,2})"
_V4_CIDR = rf"^(?P<a>{_OCTET})\.(?P<b>{_OCTET})\.(?P<c>{_OCTET})\.(?P<d>{_OCTET})(?:/(?P<p>0|[1-9]\d?))?$"


def _ranges(ranges: pd.DataFrame) -> pd.DataFrame:
    """(range_row, version, prefix, key) of every parseable CIDR. Plain IPv4 CIDRs (nearly all)
    are parsed vectorised; anything else goes through `ipaddress`, which decides what is valid."""
    cidr = ranges["cidr"].astype("string").str.strip()
    arr = pa.array(cidr.array) if len(cidr) else pa.array([], pa.string())
    parts = pc.extract_regex(arr, _V4_CIDR)
    fast = np.asarray(pc.is_valid(parts).to_numpy(zero_copy_only=False), dtype=bool) if len(arr) else np.zeros(0, bool)
    field = (
        {
            name: np.asarray(
                pc.cast(
                    pc.fill_null(
                        pc.if_else(pc.equal(pc.struct_field(parts, name), ""), None, pc.struct_field(parts, name)),
                        "32" if name == "p" else "0",
                    ),
                    pa.int64(),
                ).to_numpy(zero_copy_only=False)
            )
            for name in "abcdp"
        }
        if len(arr)
        else {n: np.zeros(0, np.int64) for n in "abcdp"}
    )
    fast &= (np.stack([field[n] for n in "abcd"], axis=1) <= 255).all(axis=1) & (field["p"] <= 32) if len(arr) else fast
    ints = (field["a"] << 24) | (field["b"] << 16) | (field["c"] << 8) | field["d"]
    prefix = field["p"]
    keys = np.where(prefix > 0, ints >> np.clip(32 - prefix, 0, 32), 0)
    rows = [
        pd.DataFrame(
            {
                "range_row": np.flatnonzero(fast),
                "version": 4,
                "prefix": prefix[fast],
                "key_hi": keys[fast].astype(np.uint64),
                "key_lo": np.uint64(0),
            }
        )
    ]
    slow = []
    for i in np.flatnonzero(~fast & cidr.notna().to_numpy()):  # IPv6 and oddities: few
        try:
            net = ipaddress.ip_network(cidr.iat[i], strict=False)
        except ValueError:
            continue
        n = int(net.network_address)
        if net.version == 4:
            slow.append((i, 4, net.prefixlen, n >> (32 - net.prefixlen) if net.prefixlen else 0, 0))
        else:
            hi, lo = n >> 64, n & 0xFFFFFFFFFFFFFFFF
            p = net.prefixlen
            if p <= 64:
                slow.append((i, 6, p, hi >> (64 - p) if p else 0, 0))
            else:
                slow.append((i, 6, p, hi, lo >> (128 - p)))
    rows.append(pd.DataFrame(slow, columns=["range_row", "version", "prefix", "key_hi", "key_lo"]))
    table = pd.concat([r for r in rows if len(r)], ignore_index=True) if any(len(r) for r in rows) else rows[0]
    return (
        table.astype(
            {"range_row": np.int64, "version": np.int64, "prefix": np.int64, "key_hi": np.uint64, "key_lo": np.uint64}
        )
        .sort_values("range_row", kind="stable")
        .reset_index(drop=True)
    )


def match_ip_ranges(ips: pd.Series, ranges: pd.DataFrame) -> pd.Series:
    """For each address, the row number in `ranges` of its longest matching CIDR (-1: none, or not an IP)."""
    result = np.full(len(ips), -1, dtype=np.int64)
    if ranges.empty or ips.isna().all():
        return pd.Series(result, index=ips.index)
    table = _ranges(ranges)
    uniq = pd.Series(ips.dropna().astype(str).str.strip().unique())
    best = np.full(len(uniq), -1, dtype=np.int64)
    v4_int, v4_ok = _parse_v4(uniq)
    is_v6 = ~v4_ok & uniq.str.contains(":", regex=False).to_numpy()
    v6_idx = np.flatnonzero(is_v6)
    hi, lo, v6_ok = _parse_v6(uniq.iloc[v6_idx].tolist())
    for (version, prefix), group in sorted(table.groupby(["version", "prefix"]), key=lambda kv: -kv[0][1]):
        group = group.drop_duplicates(["key_hi", "key_lo"], keep="first").sort_values(["key_hi", "key_lo"])
        ranges_hi, ranges_lo, rows = (
            group["key_hi"].to_numpy(np.uint64),
            group["key_lo"].to_numpy(np.uint64),
            group["range_row"].to_numpy(),
        )
        if version == 4:
            todo = np.flatnonzero(v4_ok & (best < 0))
            keys_hi = v4_int[todo] >> np.uint64(32 - prefix) if prefix else np.zeros(len(todo), np.uint64)
            keys_lo = np.zeros(len(todo), np.uint64)
        else:
            pending = v6_ok & (best[v6_idx] < 0)
            todo = v6_idx[pending]
            h, low = hi[pending], lo[pending]
            if prefix <= 64:
                keys_hi = h >> np.uint64(64 - prefix) if prefix else np.zeros(len(todo), np.uint64)
                keys_lo = np.zeros(len(todo), np.uint64)
            else:
                keys_hi, keys_lo = h, low >> np.uint64(128 - prefix)
        if not len(todo):
            continue
        # sorted (hi, lo) keys: search hi, then lo within the run of equal hi
        left = np.searchsorted(ranges_hi, keys_hi, side="left")
        right = np.searchsorted(ranges_hi, keys_hi, side="right")
        hit = left < right
        pos = left.copy()
        if (right - left > 1).any():  # several ranges share the high word (IPv6 beyond /64)
            for i in np.flatnonzero(right - left > 1):
                pos[i] = left[i] + np.searchsorted(ranges_lo[left[i] : right[i]], keys_lo[i])
        in_range = pos < len(ranges_hi)
        match = hit & in_range
        match[in_range] &= (ranges_hi[pos[in_range]] == keys_hi[in_range]) & (
            ranges_lo[pos[in_range]] == keys_lo[in_range]
        )
        best[todo[match]] = rows[pos[match]]
    pos = positions(ips.astype("string").str.strip(), uniq)
    result = np.where(pos >= 0, best[np.maximum(pos, 0)] if len(best) else -1, -1)
    return pd.Series(result.astype(np.int64), index=ips.index)
