"""The multi-model store's disk budget on real folders: least recently used unpacked targets go first, never one
in use; a folder is renamed away before it is deleted; leftovers of a deletion or an extraction cut short go."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from modelport.hosting.multi_model.disk import STALE_PARTIAL_SECONDS, StoreDisk, store_disk

KB = 1024


class User:
    """A stand-in for a multi-model variant: the folders it serves from."""

    def __init__(self, *folders: Path) -> None:
        self.folders = set(folders)

    def folders_in_use(self) -> set[Path]:
        return self.folders


def unpacked(store: Path, name: str, size_kb: int, last_used: float) -> Path:
    folder = store / name
    (folder / "code").mkdir(parents=True)
    (folder / "code" / "inference.py").write_bytes(b"#" * (size_kb * KB // 2))
    (folder / "weights.bin").write_bytes(b"\0" * (size_kb * KB - size_kb * KB // 2))
    os.utime(folder, (last_used, last_used))
    return folder


def names(store: Path) -> set[str]:
    return {p.name for p in store.iterdir()}


def test_least_recently_used_unpacked_targets_go_first_until_the_store_fits(tmp_path):
    now = time.time()
    a, b, c = (unpacked(tmp_path, n, 100, now - age) for n, age in (("a", 300), ("b", 200), ("c", 100)))
    disk = StoreDisk(tmp_path, max_bytes=250 * KB)
    assert {f.path.name: f.size for f in disk.measure()} == {"a": 100 * KB, "b": 100 * KB, "c": 100 * KB}

    deleted = asyncio.run(disk.make_room())
    assert [f.path.name for f in deleted] == ["a"]  # 300 KB → 200 KB: one is enough, the oldest
    assert names(tmp_path) == {"b", "c"}

    disk.used(b)  # b is now the most recently used: c goes next
    unpacked(tmp_path, "d", 100, now)
    asyncio.run(disk.make_room())
    assert names(tmp_path) == {"b", "d"}
    assert not a.exists() and not c.exists()


def test_folders_in_use_stay_even_over_the_budget(tmp_path, caplog):
    now = time.time()
    a, b = unpacked(tmp_path, "a", 100, now - 200), unpacked(tmp_path, "b", 100, now - 100)
    disk = StoreDisk(tmp_path, max_bytes=50 * KB)
    user = User(a)
    disk.serve(user)
    asyncio.run(disk.make_room())
    assert names(tmp_path) == {"a"}  # b went although more recent: a is loaded somewhere
    assert asyncio.run(disk.make_room()) == []
    assert "targets in use, over MODELPORT_MME_MAX_DISK_MB" in caplog.text
    assert asyncio.run(disk.discard(a)) is False and a.is_dir()
    user.folders.clear()
    assert asyncio.run(disk.discard(a)) is True
    assert names(tmp_path) == set()


def test_a_deleted_endpoints_variant_no_longer_holds_its_folders(tmp_path):
    a = unpacked(tmp_path, "a", 100, time.time())
    disk = StoreDisk(tmp_path, max_bytes=1)
    user = User(a)
    disk.serve(user)
    assert disk.in_use() == {a.resolve()}
    del user  # weakly held: a variant that is gone keeps nothing
    assert disk.in_use() == set()


def test_leftovers_of_a_cut_short_deletion_or_extraction_are_removed(tmp_path):
    now = time.time()
    unpacked(tmp_path, "a", 10, now)
    unpacked(tmp_path, ".trash-old.1234", 10, now)
    stale = unpacked(tmp_path, ".b.abcdef.partial", 10, now)
    os.utime(stale, (now - STALE_PARTIAL_SECONDS - 60,) * 2)
    unpacked(tmp_path, ".c.abcdef.partial", 10, now)  # an extraction going on right now
    (tmp_path / ".keys").mkdir()
    assert [f.path.name for f in StoreDisk(tmp_path, max_bytes=1 << 30).measure()] == ["a"]
    assert names(tmp_path) == {"a", ".c.abcdef.partial", ".keys"}


def test_endpoints_serving_one_store_share_its_disk(tmp_path):
    first = store_disk(tmp_path, 100)
    assert store_disk(tmp_path / "." , 200) is first and first.max_bytes == 200  # the latest budget applies
    assert store_disk(tmp_path / "other", 100) is not first
