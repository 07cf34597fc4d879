"""Hashes of event ids, as the `event_ids/<source>` datasets store them (duplicate checks across
days, and erasure, compare ids without keeping them), and of text in general.

The hash is pandas' `hash_array` of text (SipHash-2-4 of the UTF-8 bytes with pandas' key, then
its 64-bit mixer): hashes already stored in the lake and person keys depend on it. `hash_text`
computes the same numbers from an Arrow array's buffers with numpy, a block of 8 bytes of every
string at a time, instead of turning each value into a Python object first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from include.scoring.core.arrowops import flat

_KEY = b"0123456789123456"  # pandas' default hash key
_K0 = np.uint64(int.from_bytes(_KEY[:8], "little"))
_K1 = np.uint64(int.from_bytes(_KEY[8:], "little"))
_U64 = np.uint64


def hash_ids(ids: pd.Series) -> np.ndarray:
    """A 64-bit hash per id (pandas' stable hash of the text; a missing id hashes as '')."""
    return pd.util.hash_array(ids.fillna("").astype(str).to_numpy(dtype=object))


def _rotl(x: np.ndarray, b: int) -> np.ndarray:
    return (x << _U64(b)) | (x >> _U64(64 - b))


def _rounds(v: list[np.ndarray], n: int) -> None:
    v0, v1, v2, v3 = v
    for _ in range(n):
        v0 += v1
        v1 = _rotl(v1, 13)
        v1 ^= v0
        v0 = _rotl(v0, 32)
        v2 += v3
        v3 = _rotl(v3, 16)
        v3 ^= v2
        v0 += v3
        v3 = _rotl(v3, 21)
        v3 ^= v0
        v2 += v1
        v1 = _rotl(v1, 17)
        v1 ^= v2
        v2 = _rotl(v2, 32)
    v[:] = [v0, v1, v2, v3]


def _words(data: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The little-endian 64-bit word at each byte offset of `data` (padded by 8 zero bytes)."""
    words = np.ndarray((len(data) - 7,), dtype="<u8", buffer=data, strides=(1,))  # a word at every byte
    return words[starts].astype(np.uint64, copy=False)


def _string_bytes(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The UTF-8 bytes of a text array's values, padded by 8 zero bytes (for `_words`), and each
    value's start and length in them."""
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.large_string())
    width = 8 if pa.types.is_large_string(arr.type) else 4
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64 if width == 8 else np.int32, len(arr) + 1, arr.offset * width)
    raw = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    data = np.concatenate([raw[offsets[0] : offsets[-1]], np.zeros(8, np.uint8)])
    return data, (offsets[:-1] - offsets[0]).astype(np.int64), np.diff(offsets).astype(np.int64)


def _siphash(arr: pa.Array) -> np.ndarray:
    """SipHash-2-4 of each (non-null) string's UTF-8 bytes, with pandas' key."""
    n = len(arr)
    data, start, length = _string_bytes(arr)
    blocks = length // 8
    order = np.argsort(-blocks, kind="stable")  # longest first: the rows still hashing are a prefix
    start, length, blocks = start[order], length[order], blocks[order]
    with np.errstate(over="ignore"):
        v = [
            np.full(n, _K0 ^ _U64(0x736F6D6570736575)),
            np.full(n, _K1 ^ _U64(0x646F72616E646F6D)),
            np.full(n, _K0 ^ _U64(0x6C7967656E657261)),
            np.full(n, _K1 ^ _U64(0x7465646279746573)),
        ]
        for j in range(int(blocks.max()) if n else 0):
            k = int(np.count_nonzero(blocks > j))
            m = _words(data, start[:k] + 8 * j)
            part = [x[:k] for x in v]
            part[3] ^= m
            _rounds(part, 2)
            part[0] ^= m
            for x, y in zip(v, part, strict=True):
                x[:k] = y
        tail = length % 8
        m = _words(data, start + 8 * blocks)
        keep = np.where(tail > 0, (_U64(1) << (tail.astype(np.uint64) * _U64(8))) - _U64(1), _U64(0))
        m = (m & keep) | ((length.astype(np.uint64) & _U64(0xFF)) << _U64(56))
        v[3] ^= m
        _rounds(v, 2)
        v[0] ^= m
        v[2] ^= _U64(0xFF)
        _rounds(v, 4)
        out = np.empty(n, np.uint64)
        out[order] = v[0] ^ v[1] ^ v[2] ^ v[3]
    return out


def hash_text(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """pandas' `hash_array` of the strings of `values`, as uint64, computed in numpy (a null
    hashes as '', as in `hash_ids`); each distinct value is hashed once."""
    values = flat(values)
    if values.null_count:
        values = pc.fill_null(values, "")
    encoded = pc.dictionary_encode(values)
    with np.errstate(over="ignore"):
        h = _siphash(encoded.dictionary)
        h ^= h >> _U64(30)
        h *= _U64(0xBF58476D1CE4E5B9)
        h ^= h >> _U64(27)
        h *= _U64(0x94D049BB133111EB)
        h ^= h >> _U64(31)
    return h[np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)]


def fingerprints(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A 64-bit fingerprint of each string: its length and 8-byte words mixed by multiply and
    xor-shift, in a few numpy passes over the Arrow buffers (no hash table). Equal strings have
    equal fingerprints, so distinct fingerprints prove distinct strings; equal fingerprints prove
    nothing (a null and '' share one) and the strings must then be compared. For checks in memory
    only: the mix is not pandas' hash and may change, never store it."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    parts = [_fingerprints(chunk) for chunk in chunks if len(chunk)]
    return np.concatenate(parts) if parts else np.empty(0, np.uint64)


def _fingerprints(arr: pa.Array) -> np.ndarray:
    n = len(arr)
    data, start, length = _string_bytes(arr)
    with np.errstate(over="ignore"):
        h = length.astype(np.uint64) * _U64(0x9E3779B97F4A7C15)
        for j in range(max(1, -(-int(length.max()) // 8)) if n else 0):  # the first word: every row, even ''
            left = np.clip(length - 8 * j, 0, 8).astype(np.uint64)
            keep = np.where(left == 8, _U64(0xFFFFFFFFFFFFFFFF), (_U64(1) << (left * _U64(8))) - _U64(1))
            mixed = (h ^ (_words(data, np.minimum(start + 8 * j, len(data) - 8)) & keep)) * _U64(0xBF58476D1CE4E5B9)
            mixed ^= mixed >> _U64(31)
            h = mixed if j == 0 else np.where(left > 0, mixed, h)  # a word per 8 bytes of the text itself
        h ^= h >> _U64(33)
        h *= _U64(0x94D049BB133111EB)
        h ^= h >> _U64(29)
    if arr.null_count:  # a null's slot may hold bytes: every null gets the same fingerprint
        h[np.asarray(arr.is_null())] = 0
    return h
