"""The disk budget of a multi-model model store (``MODELPORT_MME_MAX_DISK_MB``).

A target's unpacked folder stays in the store after the target is unloaded, so loading it again skips the
fetch (SageMaker keeps unloaded models on an instance's storage volume the same way). The store keeps at most
its budget of them: before each load (once the targets it displaces are unloaded), the least recently used
folders that no instance has loaded, is loading or is invoking are deleted until the rest fit. Folders in use
are never deleted, so the store may go over its budget while they alone exceed it. An endpoint with
``ModelCacheSetting = Disabled`` deletes a target's folder as soon as it is unloaded, as SageMaker does.

Every table of loaded targets lives on hosting's event loop, so the choice is made there, and a chosen folder is
first renamed out of the way there (atomic: a fetch finds a folder whole or not at all, and fetches it again)
and then deleted in a thread. Endpoints serving the same prefix share a store, and so one :class:`StoreDisk`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Protocol

log = logging.getLogger(__name__)

TRASH_PREFIX = ".trash-"  # a folder being deleted
PARTIAL_SUFFIX = ".partial"  # an extraction in progress (modelport.archive.unpack)
STALE_PARTIAL_SECONDS = 3600.0  # an extraction older than this was cut short (a crash): its leftovers go


class StoreUser(Protocol):
    """Something that serves targets out of a store (a multi-model variant)."""

    def folders_in_use(self) -> set[Path]: ...


@dataclass(frozen=True)
class Folder:
    """One unpacked target in the store: its size and when it was last used (seconds since the epoch)."""

    path: Path
    size: int
    last_used: float


class StoreDisk:
    """The unpacked targets of one model store (``folder``), kept within ``max_bytes``."""

    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.users: weakref.WeakSet = weakref.WeakSet()  # a deleted endpoint's variant drops out by itself
        self._sizes: dict[str, int] = {}  # folder name → bytes; a folder never changes once in place
        self._lock = threading.Lock()  # _sizes is filled from threads

    def serve(self, user: StoreUser) -> None:
        """Count ``user``'s folders in use as untouchable."""
        self.users.add(user)

    def used(self, folder: Path) -> None:
        """Mark ``folder`` as just used (its modification time, so the order survives a restart of hosting)."""
        try:
            os.utime(folder)
        except OSError:
            pass  # removed meanwhile: the next fetch brings it back

    async def make_room(self) -> list[Folder]:
        """Delete the least recently used folders not in use while the store is over its budget; the deleted."""
        folders = await asyncio.to_thread(self.measure)
        keep = self.in_use()  # from here to the renames below nothing awaits: no load can start in between
        total = sum(f.size for f in folders)
        chosen = []
        for folder in sorted(folders, key=lambda f: f.last_used):
            if total <= self.max_bytes:
                break
            if folder.path not in keep:
                chosen.append(folder)
                total -= folder.size
        if chosen:
            log.info("multi-model store %s: deleting %d unloaded target(s), %.1f MB, least recently used first, "
                     "to stay within MODELPORT_MME_MAX_DISK_MB (%.0f MB)", self.folder.parent.name, len(chosen),
                     sum(f.size for f in chosen) / 2**20, self.max_bytes / 2**20)
        elif total > self.max_bytes:
            log.warning("multi-model store %s holds %.1f MB of targets in use, over MODELPORT_MME_MAX_DISK_MB "
                        "(%.0f MB); they stay until unloaded", self.folder.parent.name, total / 2**20,
                        self.max_bytes / 2**20)
        await self._delete([f.path for f in chosen])
        return chosen

    async def discard(self, folder: Path) -> bool:
        """Delete ``folder`` now unless a target in use is served from it (a cache-disabled endpoint's target
        after its unload); whether it went."""
        if _real(folder) in self.in_use():
            return False
        await self._delete([folder])
        return True

    def in_use(self) -> set[Path]:
        """Every folder some endpoint has loaded, is loading or is invoking."""
        keep: set[Path] = set()
        for user in list(self.users):
            keep.update(_real(folder) for folder in user.folders_in_use())
        return keep

    def measure(self) -> list[Folder]:
        """(In a thread.) Every unpacked folder with its size and last use; removes what an interrupted deletion
        or extraction left behind."""
        remove_trash(self.folder)  # a deletion cut short (or still going: removing it twice is harmless)
        folders = []
        try:
            entries = list(os.scandir(self.folder))
        except FileNotFoundError:
            return []
        now = time.time()
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
                modified = entry.stat().st_mtime
                if entry.name.startswith("."):  # .keys, and extractions in progress
                    if entry.name.endswith(PARTIAL_SUFFIX) and now - modified > STALE_PARTIAL_SECONDS:
                        shutil.rmtree(entry.path, ignore_errors=True)
                    continue
                folders.append(Folder(Path(entry.path), self._size(entry.name), modified))
            except OSError:
                continue  # deleted meanwhile
        return folders

    def _size(self, name: str) -> int:
        with self._lock:
            size = self._sizes.get(name)
        if size is None:
            size = folder_bytes(self.folder / name)
            with self._lock:
                self._sizes[name] = size
        return size

    async def _delete(self, folders: Iterable[Path]) -> None:
        folders = list(folders)
        with self._lock:
            for folder in folders:
                self._sizes.pop(folder.name, None)
        await delete_folders(folders)


async def delete_folders(folders: Iterable[Path]) -> None:
    """Delete ``folders``: each renamed out of the way at once (before the first await: a fetch or a claim on the
    same loop then finds it gone, never half deleted), then removed in a thread."""
    trash = []
    for folder in folders:
        moved = folder.with_name(f"{TRASH_PREFIX}{folder.name}.{secrets.token_hex(4)}")
        try:
            os.rename(folder, moved)
        except OSError:
            continue  # already gone
        trash.append(moved)
    await asyncio.gather(*(asyncio.to_thread(shutil.rmtree, moved, True) for moved in trash))


def remove_trash(parent: Path) -> None:
    """(In a thread.) Remove what deletions cut short (a crash) left in ``parent``: the folders
    :func:`delete_folders` renamed and had not removed yet."""
    try:
        entries = list(os.scandir(parent))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.name.startswith(TRASH_PREFIX) and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)


def _real(path: Path) -> Path:
    return Path(os.path.realpath(path))  # measure() lists the store by its real path


def folder_bytes(folder: Path) -> int:
    """The bytes of every file under ``folder`` (links not followed)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


_DISKS: dict[Path, StoreDisk] = {}  # one per store folder, shared by every endpoint serving it


def store_disk(folder: Path, max_bytes: int) -> StoreDisk:
    """The :class:`StoreDisk` of ``folder`` (created on first use; the latest budget applies)."""
    key = _real(folder)
    disk = _DISKS.get(key)
    if disk is None:
        disk = _DISKS[key] = StoreDisk(key, max_bytes)
    disk.max_bytes = max_bytes
    return disk


def forget_disk(folder: Path) -> None:
    """Drop the :class:`StoreDisk` of ``folder`` (its store is being deleted)."""
    _DISKS.pop(_real(folder), None)
