"""Partitions on an object store (S3 and the like), where there is no rename: generations and a manifest.

A partition written by one writer is written whole under a new, unique prefix of its folder,
`dt=D/_gen_<token>/` (its data file and side files), then made current by one PUT of
`dt=D/_manifest.json`, which names that generation. A PUT of an object is atomic, and readers
follow the manifest (include/scoring/lake/store.py), so they see the previous generation or the
new one, never part of one. Once the manifest is switched, everything else in the folder (the
previous generation, one a crashed write left, the parts of a sharded layout) is removed. A crash
before the switch leaves the previous generation current and an orphan generation, invisible
(its name starts with `_`) and removed by the next write of the partition.

A shard's part (`part-KKKKK-of-NNNNN.parquet`) is one object, so it is written in place by one PUT;
the first part of a sharded layout removes the manifest first (then the generations), so readers
stop following the single-writer layout before they would see its files go.

Every object is sent as one complete body (`pipe_file`), never streamed through an open file: a
file opened for writing is committed when it is closed, even when the write failed halfway.
"""

from __future__ import annotations

import contextlib
import json
import logging
import posixpath
import re
import uuid
from collections.abc import Mapping

import fsspec

from include.scoring.core.errors import LakeError

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
GENERATION_PREFIX = "_gen_"
_GENERATION = re.compile(rf"^{GENERATION_PREFIX}[0-9a-f]{{12}}$")


def put(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    """One object, written whole or not at all."""
    try:
        fs.pipe_file(path, data)
    except FileNotFoundError as exc:
        raise LakeError(
            f"cannot write {path} to the lake ({exc}). Check that the bucket in ENGAGEMENT_LAKE exists and that "
            "AWS_ENDPOINT_URL_S3 and AWS_REGION point at the server that holds it."
        ) from None


def current(fs: fsspec.AbstractFileSystem, folder: str) -> str | None:
    """The folder of the partition's current generation, or None when it has no manifest."""
    path = posixpath.join(folder, MANIFEST)
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        return None
    try:
        generation = json.loads(raw)["generation"]
        if not isinstance(generation, str) or not _GENERATION.match(generation):
            raise ValueError(f"not a generation name: {generation!r}")
    except (ValueError, KeyError, TypeError) as exc:
        raise LakeError(
            f"lake manifest {path} is unreadable ({exc}). Re-run the stage that writes this partition to rebuild it."
        ) from None
    return posixpath.join(folder, generation)


def write_generation(fs: fsspec.AbstractFileSystem, folder: str, files: Mapping[str, bytes]) -> str:
    """Write `files` (name -> bytes) as a new generation of `folder`, make it current, remove the
    rest; returns the generation's folder."""
    generation = f"{GENERATION_PREFIX}{uuid.uuid4().hex[:12]}"
    where = posixpath.join(folder, generation)
    try:
        for name, data in files.items():
            put(fs, posixpath.join(where, name), data)
    except BaseException:
        with contextlib.suppress(Exception):  # best effort: the error that stopped the write is the one to tell
            remove(fs, where)
        raise
    switch(fs, folder, generation)
    sweep(fs, folder, keep=generation)
    return where


def switch(fs: fsspec.AbstractFileSystem, folder: str, generation: str) -> None:
    """Make `generation` the partition's current one: a single PUT of the manifest."""
    put(fs, posixpath.join(folder, MANIFEST), json.dumps({"generation": generation}).encode())


def sweep(fs: fsspec.AbstractFileSystem, folder: str, keep: str) -> None:
    """Remove everything in `folder` but the manifest and generation `keep`: earlier generations,
    orphans of crashed writes, another layout's files."""
    for entry in fs.ls(folder, detail=False):
        name = posixpath.basename(entry.rstrip("/"))
        if name in (MANIFEST, keep):
            continue
        if name.startswith(GENERATION_PREFIX):
            log.debug("removing %s, an earlier generation of %s", entry, folder)
        else:
            log.debug("removing %s, left from another layout of %s", entry, folder)
        remove(fs, entry)


def leave_single_writer_layout(fs: fsspec.AbstractFileSystem, folder: str, entries: list[str]) -> list[str]:
    """Before a shard's part is written: remove the manifest, then its generations (readers stop
    following them first); returns the entries left."""
    names = {posixpath.basename(e.rstrip("/")): e for e in entries}
    if MANIFEST in names:
        remove(fs, names[MANIFEST])
    for name, entry in names.items():
        if name.startswith(GENERATION_PREFIX):
            remove(fs, entry)
    return [e for n, e in names.items() if n != MANIFEST and not n.startswith(GENERATION_PREFIX)]


def remove(fs: fsspec.AbstractFileSystem, path: str) -> None:
    try:
        fs.rm(path, recursive=True)
    except FileNotFoundError:  # another writer (a shard of the same layout) removed it first
        pass
