"""Arrow's allocator (core/memory.py): jemalloc unless the environment names a pool, and the
default kept by a pyarrow built without jemalloc (which raises NotImplementedError for it)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from include.scoring.core.memory import use_jemalloc


@pytest.fixture
def restore_pool():
    before = pa.default_memory_pool()
    yield
    pa.set_memory_pool(before)


def test_the_lake_switches_arrow_to_jemalloc(restore_pool, monkeypatch):
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    pa.set_memory_pool(pa.system_memory_pool())
    assert use_jemalloc() == "jemalloc" == pa.default_memory_pool().backend_name


def test_a_pool_named_in_the_environment_is_kept(restore_pool, monkeypatch):
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    pa.set_memory_pool(pa.system_memory_pool())
    assert use_jemalloc() == "system" == pa.default_memory_pool().backend_name


def test_a_pyarrow_without_jemalloc_keeps_its_default(restore_pool, monkeypatch):
    def unavailable():
        raise NotImplementedError("jemalloc is not enabled in this build")

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    monkeypatch.setattr(pa, "jemalloc_memory_pool", unavailable)
    pa.set_memory_pool(pa.system_memory_pool())
    assert use_jemalloc() == "system"
