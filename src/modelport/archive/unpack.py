"""Unpack a ``model.tar.gz`` safely: nothing may land outside the destination, and a refused
archive leaves nothing behind.

Every member is checked before anything is written (absolute paths, ``..``, links that leave the
folder, paths or link targets that pass through another link in any order, hard links to links,
devices and FIFOs, entry count, total size). Extraction then runs with Python's ``tarfile`` "data"
filter as a second line of defence, into a hidden folder beside the destination; every extracted
link's real path is checked to be inside it, and only then is it renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import secrets
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from modelport.archive.errors import ArchiveError, UnsafeArchiveError
from modelport.archive.settings import MAX_BYTES_ENV, MAX_ENTRIES_ENV, ArchiveSettings
from modelport.checksum import sha256_of

DEFAULT_MAX_BYTES = 20 * 1024**3  # 20 GiB unpacked
DEFAULT_MAX_ENTRIES = 100_000
CACHE_KEY_LENGTH = 16  # hex digits of the archive's sha256 used as the cache folder name
# tarfile's extraction filters arrived in Python 3.11.4; before that our own checks stand alone.
_FILTER_ERROR: type[Exception] | tuple[()] = getattr(tarfile, "FilterError", ())


def max_archive_bytes() -> int:
    """The unpacked-size limit: ``MODELPORT_MAX_ARCHIVE_BYTES`` if set, else :data:`DEFAULT_MAX_BYTES`."""
    return _positive_setting(MAX_BYTES_ENV, ArchiveSettings().max_bytes, DEFAULT_MAX_BYTES, "bytes")


def max_archive_entries() -> int:
    """The entry-count limit: ``MODELPORT_MAX_ARCHIVE_ENTRIES`` if set, else :data:`DEFAULT_MAX_ENTRIES`."""
    return _positive_setting(MAX_ENTRIES_ENV, ArchiveSettings().max_entries, DEFAULT_MAX_ENTRIES, "entries")


def _positive_setting(variable: str, value: str, default: int, unit: str) -> int:
    """``value`` (the text of ``variable``) as a positive whole number; ``default`` when it is empty."""
    raw = value.strip()
    if not raw:
        return default
    try:
        number = int(raw.replace("_", ""))
    except ValueError:
        raise ArchiveError(f"{variable} must be a whole number of {unit}, got {raw!r}") from None
    if number <= 0:
        raise ArchiveError(f"{variable} must be a positive number of {unit}, got {raw!r}")
    return number


def resolve_archive_path(archive: Path | str) -> Path:
    """Turn a plain path or a ``file://`` URI into a local path; other URI schemes are refused."""
    text = str(archive)
    if "://" not in text:
        return Path(text)
    parsed = urlparse(text)
    if parsed.scheme != "file":
        raise ArchiveError(
            f"cannot read {text!r} here: only local paths and file:// URIs are accepted "
            "(fetch other URIs with modelport.store first)"
        )
    if parsed.netloc not in ("", "localhost"):
        raise ArchiveError(f"file URI {text!r} names a remote host; use file:///absolute/path")
    return Path(unquote(parsed.path))


def safe_extract(archive: Path | str, destination: Path, *, max_bytes: int | None = None) -> Path:
    """Unpack ``archive`` into ``destination`` (which must not exist or be empty); return the folder.

    ``archive`` is a tar (usually gzip-compressed) path or ``file://`` URI; a plain folder is returned
    as is, untouched. ``max_bytes`` limits the total unpacked size (default: :func:`max_archive_bytes`).
    Raises :class:`UnsafeArchiveError` naming the member and rule for a refused archive, and
    :class:`ArchiveError` for anything else; in both cases nothing is left at ``destination``.
    """
    source = resolve_archive_path(archive)
    if source.is_dir():
        return source
    limit = max_archive_bytes() if max_bytes is None else max_bytes
    destination = Path(destination)
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ArchiveError(f"destination {str(destination)!r} already exists and is not an empty folder")
    staging = _extract_to_staging(source, destination, limit)
    try:
        os.replace(staging, destination)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"could not move the unpacked archive to {str(destination)!r}: {error}") from error
    return destination


def extract_cached(archive: Path | str, cache_root: Path, *, max_bytes: int | None = None,
                   remember_key: bool = True) -> Path:
    """Unpack ``archive`` once into ``cache_root/<sha256 prefix>/`` and return that folder.

    The folder is keyed by the archive's content (sha256), so serving the same archive again (or from
    another process at the same time) reuses the earlier extraction. A folder only ever appears there by an
    atomic rename of a complete extraction, so its existence means it is complete. A plain folder
    is returned as is. ``remember_key=False`` for a file that is never read twice (a fresh download): its
    key is not remembered (see :func:`_content_key`).
    """
    source = resolve_archive_path(archive)
    if source.is_dir():
        return source
    cache_root = Path(cache_root)
    key = _content_key(source, cache_root) if remember_key else sha256_file(source)[:CACHE_KEY_LENGTH]
    target = cache_root / key
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    limit = max_archive_bytes() if max_bytes is None else max_bytes
    staging = _extract_to_staging(source, target, limit)
    try:
        os.rename(staging, target)
    except OSError:
        # Another process finished the same extraction first: keep theirs, drop ours.
        shutil.rmtree(staging, ignore_errors=True)
        if not target.is_dir():
            raise
    return target


def _content_key(source: Path, cache_root: Path) -> str:
    """The cache folder name for ``source``: a prefix of its sha256.

    Hashing a large archive takes seconds, so the key is remembered in ``cache_root/.keys/`` under
    the file's identity (path, size, mtime, inode): a second start of the same file costs a stat.
    """
    try:
        info = source.stat()
    except FileNotFoundError:
        raise ArchiveError(f"archive {str(source)!r} does not exist") from None
    identity = f"{source.absolute()}|{info.st_size}|{info.st_mtime_ns}|{info.st_ino}"
    memo = cache_root / ".keys" / hashlib.sha256(identity.encode()).hexdigest()[:32]
    try:
        key = memo.read_text().strip()
        if len(key) == CACHE_KEY_LENGTH:
            return key
    except OSError:
        pass
    key = sha256_file(source)[:CACHE_KEY_LENGTH]
    memo.parent.mkdir(parents=True, exist_ok=True)
    partial = memo.with_name(f"{memo.name}.{secrets.token_hex(4)}.partial")
    partial.write_text(key)
    os.replace(partial, memo)
    return key


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks."""
    try:
        return sha256_of(path)
    except FileNotFoundError:
        raise ArchiveError(f"archive {str(path)!r} does not exist") from None


@dataclass
class ArchiveSummary:
    """What the validation pass learned about an archive: its members and total unpacked size."""

    members: list[tarfile.TarInfo]
    total_bytes: int


def _extract_to_staging(source: Path, destination: Path, limit: int) -> Path:
    """Validate, then extract ``source`` into a fresh hidden folder beside ``destination``."""
    if not source.exists():
        raise ArchiveError(f"archive {str(source)!r} does not exist")
    if not source.is_file():
        raise ArchiveError(f"{str(source)!r} is neither a tar archive nor a model folder")
    destination = destination.absolute()
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = destination.with_name(f".{destination.name}.{secrets.token_hex(6)}.partial")
    try:
        with _open_tar(source) as tar:
            summary = validate_members(tar, limit, max_archive_entries())
            staging.mkdir()
            extract_kwargs = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(staging, members=summary.members, **extract_kwargs)
        check_links_inside(staging)
    except _FILTER_ERROR as error:
        shutil.rmtree(staging, ignore_errors=True)
        member = getattr(getattr(error, "tarinfo", None), "name", "?")
        raise UnsafeArchiveError(member, f"refused by tarfile's data filter ({error})") from error
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(f"could not unpack {str(source)!r}: {error}") from error
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


def _open_tar(source: Path) -> tarfile.TarFile:
    """Open a tar of any compression tarfile knows, with a clear error for anything else."""
    try:
        return tarfile.open(source, mode="r:*")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ArchiveError(
            f"{str(source)!r} is not a readable tar archive ({error}); "
            "SageMaker model data is a gzip-compressed tar (model.tar.gz)"
        ) from error


def validate_members(tar: tarfile.TarFile, max_bytes: int, max_entries: int = DEFAULT_MAX_ENTRIES) -> ArchiveSummary:
    """Check every member of ``tar`` against the safety rules before anything is extracted.

    Returns the members to extract (the archive's own root entries ``.``/``./`` are dropped).
    Raises :class:`UnsafeArchiveError` on the first member that breaks a rule. Rules about links
    are checked again once every member is known, so their order in the archive does not matter.
    """
    members: list[tarfile.TarInfo] = []
    kinds: dict[str, str] = {}  # normalised name -> "dir" | "file" | "link"
    total = 0
    # Iterating reads each header before the member's data is skipped, so an absurd declared size
    # or count is refused here without reading on.
    for count, member in enumerate(tar, 1):
        if count > max_entries:
            raise UnsafeArchiveError(
                member.name, f"the archive has more than {max_entries:,} entries (raise the limit with {MAX_ENTRIES_ENV})"
            )
        name = _normalised_name(member.name)
        if name is None:  # the archive's root folder entry ("", "." or "./")
            if not member.isdir():
                raise UnsafeArchiveError(member.name, "the archive root may only be a folder entry")
            continue
        _check_type(member)
        _check_not_through_link(member.name, name, kinds)
        if member.issym():
            _check_symlink(member, name)
            kind = "link"
        elif member.islnk():
            _check_hardlink(member, kinds)
            kind = "file"
        elif member.isdir():
            kind = "dir"
        else:
            kind = "file"
            total += member.size
            if total > max_bytes:
                raise UnsafeArchiveError(
                    member.name,
                    f"the unpacked size exceeds the limit of {max_bytes:,} bytes "
                    f"(raise it with {MAX_BYTES_ENV})",
                )
        previous = kinds.get(name)
        if previous is not None and not (previous == kind == "dir"):
            raise UnsafeArchiveError(member.name, "the archive holds this path more than once")
        kinds[name] = kind
        members.append(member)
    _check_link_chains(members, kinds)
    return ArchiveSummary(members=members, total_bytes=total)


def _check_link_chains(members: list[tarfile.TarInfo], kinds: dict[str, str]) -> None:
    """With every member known: no path and no symbolic link target passes through a link.

    ``l2 -> l1/..`` then ``l1 -> .`` is lexically inside, yet resolves to the parent folder; each
    link alone looks fine, so links are checked against all the others, whatever their order.
    A link to a link (``libx.so -> libx.so.1``) stays allowed: its target is checked on its own.
    """
    for member in members:
        name = _normalised_name(member.name) or ""
        _check_not_through_link(member.name, name, kinds)
        if member.issym():
            for passed in _target_parents(name, member.linkname):
                if kinds.get(passed) == "link":
                    raise UnsafeArchiveError(
                        member.name, f"symbolic link target {member.linkname!r} passes through the link {passed!r} (link chains are refused)"
                    )


def _target_parents(name: str, target: str) -> list[str]:
    """The folders a relative link target walks through on its way (lexically, from the link's folder)."""
    walked = [part for part in posixpath.dirname(name).split("/") if part]
    passed = []
    steps = [part for part in target.replace("\\", "/").split("/") if part not in ("", ".")]
    for step in steps[:-1]:
        if step == "..":
            if walked:
                walked.pop()
        else:
            walked.append(step)
            passed.append("/".join(walked))
    return passed


def check_links_inside(root: Path) -> None:
    """After extraction: every symbolic link under ``root`` resolves inside it (else refuse).

    Walks what is on disk, not the member list, so it holds whatever the extraction did.
    """
    base = os.path.realpath(root)
    for folder, subfolders, files in os.walk(base):  # links to folders are listed, not followed
        for entry in (*subfolders, *files):
            path = os.path.join(folder, entry)
            if not os.path.islink(path):
                continue
            real = os.path.realpath(path)
            if real != base and not real.startswith(base + os.sep):
                relative = os.path.relpath(path, base)
                raise UnsafeArchiveError(relative, f"symbolic link to {os.readlink(path)!r} resolves outside the extraction folder")


def _normalised_name(raw: str) -> str | None:
    """The member path without ``./`` and trailing ``/``; None for the archive root itself.

    Raises for absolute paths and ``..`` components.
    """
    if "\x00" in raw:
        raise UnsafeArchiveError(raw, "member names may not contain NUL bytes")
    if raw.startswith(("/", "\\")) or (len(raw) > 2 and raw[0].isalpha() and raw[1] == ":" and raw[2] in "/\\"):
        raise UnsafeArchiveError(raw, "absolute paths are not allowed; members must be relative")
    parts = [part for part in raw.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(raw, "'..' path components are not allowed")
    return "/".join(parts) if parts else None


def _check_type(member: tarfile.TarInfo) -> None:
    """Allow only regular files, folders, symbolic links and hard links."""
    if member.ischr() or member.isblk():
        raise UnsafeArchiveError(member.name, "device files are not allowed")
    if member.isfifo():
        raise UnsafeArchiveError(member.name, "FIFOs (named pipes) are not allowed")
    if member.issparse():
        raise UnsafeArchiveError(member.name, "sparse files are not allowed")
    if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchiveError(member.name, f"member type {member.type!r} is not allowed")


def _check_not_through_link(raw: str, name: str, kinds: dict[str, str]) -> None:
    """Refuse a member whose parent path goes through a symbolic link from the same archive.

    Each link is checked lexically; a path through a link could still resolve elsewhere.
    """
    parts = name.split("/")
    for depth in range(1, len(parts)):
        prefix = "/".join(parts[:depth])
        if kinds.get(prefix) == "link":
            raise UnsafeArchiveError(raw, f"its path goes through the symbolic link {prefix!r}")
        if kinds.get(prefix) == "file":
            raise UnsafeArchiveError(raw, f"its parent {prefix!r} is a file in the archive")


def _check_symlink(member: tarfile.TarInfo, name: str) -> None:
    """A symbolic link must be relative and point inside the extraction folder."""
    target = member.linkname
    if not target:
        raise UnsafeArchiveError(member.name, "symbolic link with an empty target")
    if target.startswith(("/", "\\")):
        raise UnsafeArchiveError(member.name, f"symbolic link to the absolute path {target!r} is not allowed")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target.replace("\\", "/")))
    if resolved == ".." or resolved.startswith("../"):
        raise UnsafeArchiveError(
            member.name, f"symbolic link target {target!r} leaves the extraction folder"
        )


def _check_hardlink(member: tarfile.TarInfo, kinds: dict[str, str]) -> None:
    """A hard link must name a regular file stored earlier in the same archive."""
    target = member.linkname
    if target.startswith(("/", "\\")):
        raise UnsafeArchiveError(member.name, f"hard link to the absolute path {target!r} is not allowed")
    parts = [part for part in target.replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise UnsafeArchiveError(member.name, f"hard link target {target!r} leaves the extraction folder")
    if kinds.get("/".join(parts)) == "link":
        raise UnsafeArchiveError(member.name, f"hard link target {target!r} is a symbolic link (hard links to links are refused)")
    if kinds.get("/".join(parts)) != "file":
        raise UnsafeArchiveError(
            member.name, f"hard link target {target!r} is not a regular file earlier in the archive"
        )
