"""Write a SageMaker-layout ``model.tar.gz``: artifacts at the root, the handler code under ``code/``.

The layout is what the SageMaker SDK writes when it repacks a model (``cd model_dir; tar czf
../model.tar.gz *``): no top-level folder, so the files land directly in ``/opt/ml/model``.
The bytes are deterministic: entries are sorted, and owners, times and the gzip header are fixed,
so the same inputs always give the same archive (handy for "archive unchanged" checks).
"""

from __future__ import annotations

import gzip
import os
import secrets
import stat
import tarfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from modelport.archive.errors import ArchiveError, ArchiveWarning

CODE_DIR = "code"
DEFAULT_ENTRY_SCRIPT = "inference.py"
# Never packed: byte-code caches hold timestamps (non-deterministic) and are rebuilt on import.
SKIPPED_DIR_NAMES = frozenset({"__pycache__"})
SKIPPED_SUFFIXES = (".pyc",)
# gzip level 6 (the `tar czf` default): nearly the size of level 9, much faster on large weights.
COMPRESS_LEVEL = 6
FIXED_MTIME = 0

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class PackEntry:
    """One member of the archive to write: a directory, or a file read from ``source``."""

    arcname: str
    source: Path | None
    size: int = 0
    executable: bool = False

    @property
    def is_dir(self) -> bool:
        """True for a directory member."""
        return self.source is None


def pack_archive(
    source_dir: Path,
    output: Path,
    code: Path | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> Path:
    """Write ``output`` (a model.tar.gz) from the artifacts in ``source_dir``; return its path.

    ``source_dir``'s files go to the archive root and its ``code/`` folder is kept as is.
    ``code`` (optional) is an entry script, copied to ``code/<name>``, or a source folder whose
    contents replace ``code/`` (as the SageMaker SDK does with ``entry_point`` / ``source_dir``).
    A missing ``code/inference.py`` only warns (:class:`ArchiveWarning`): PyTorch models may rely on
    the default TorchScript ``model_fn``. ``progress(done_bytes, total_bytes)`` is called while writing.
    The archive is written beside ``output`` and renamed into place, so a failed pack leaves nothing.
    """
    source_dir = Path(source_dir)
    output = Path(output)
    code = Path(code) if code is not None else None
    _check_inputs(source_dir, output, code)
    entries = plan_entries(source_dir, code)
    _warn_about_code(entries)
    if not output.name.endswith(".tar.gz"):
        warnings.warn(
            f"{output.name!r} does not end in .tar.gz; SageMaker requires ModelDataUrl to point to a "
            "gzip-compressed tar with a .tar.gz suffix",
            ArchiveWarning,
            stacklevel=2,
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    _write_archive(entries, output, progress)
    return output


def _check_inputs(source_dir: Path, output: Path, code: Path | None) -> None:
    """Refuse inputs that cannot give a sensible archive, with a message saying what is accepted."""
    if not source_dir.exists():
        raise ArchiveError(f"source folder {str(source_dir)!r} does not exist")
    if not source_dir.is_dir():
        raise ArchiveError(
            f"{str(source_dir)!r} is not a folder; pack takes the folder that holds the model artifacts"
        )
    if output.is_dir():
        raise ArchiveError(f"output {str(output)!r} is a folder; give a file name such as model.tar.gz")
    real_source = source_dir.resolve()
    real_output = output.resolve()
    if real_output.is_relative_to(real_source):
        raise ArchiveError(
            f"output {str(output)!r} is inside the source folder {str(source_dir)!r}; "
            "write the archive elsewhere, or it would pack itself"
        )
    if code is None:
        return
    if not code.exists():
        raise ArchiveError(f"--code {str(code)!r} does not exist; give an entry script or a source folder")
    real_code = code.resolve()
    if code.is_dir():
        if real_source.is_relative_to(real_code):
            raise ArchiveError(f"--code folder {str(code)!r} contains the source folder; give its code only")
        if real_output.is_relative_to(real_code):
            raise ArchiveError(f"output {str(output)!r} is inside the --code folder {str(code)!r}")
    elif not code.is_file():
        raise ArchiveError(f"--code {str(code)!r} is neither a file nor a folder")


def plan_entries(source_dir: Path, code: Path | None = None) -> list[PackEntry]:
    """List the archive members for ``source_dir`` plus ``code``, sorted parents first."""
    real_code = code.resolve() if code is not None else None
    # The --code path may live inside source_dir (model.joblib beside inference.py): then it goes
    # to code/ only, not to the root as well.
    exclude = {real_code} if real_code is not None and real_code != (source_dir / CODE_DIR).resolve() else set()
    members: dict[str, PackEntry] = {}
    _collect(source_dir, "", members, exclude)
    if code is not None:
        existing_code = [name for name in members if name == CODE_DIR or name.startswith(CODE_DIR + "/")]
        if code.is_dir():
            if existing_code:
                warnings.warn(
                    f"{source_dir / CODE_DIR} is replaced by the --code folder {code}",
                    ArchiveWarning,
                    stacklevel=3,
                )
            for name in existing_code:
                del members[name]
            members[CODE_DIR] = PackEntry(CODE_DIR, None)
            _collect(code, CODE_DIR, members, set())
        else:
            arcname = f"{CODE_DIR}/{code.name}"
            if arcname in members:
                warnings.warn(
                    f"{source_dir / arcname} is replaced by --code {code}", ArchiveWarning, stacklevel=3
                )
            members.setdefault(CODE_DIR, PackEntry(CODE_DIR, None))
            members[arcname] = _file_entry(arcname, code)
    if not any(not entry.is_dir for entry in members.values()):
        raise ArchiveError(f"nothing to pack: {str(source_dir)!r} holds no files and no --code was given")
    return sorted(members.values(), key=lambda entry: entry.arcname.split("/"))


def _collect(folder: Path, prefix: str, members: dict[str, PackEntry], exclude: set[Path]) -> None:
    """Add the files and folders under ``folder`` to ``members`` as ``prefix/...`` arcnames."""
    with os.scandir(folder) as scan:
        items = sorted(scan, key=lambda item: item.name)
    for item in items:
        path = Path(item.path)
        arcname = f"{prefix}/{item.name}" if prefix else item.name
        if item.name.endswith(SKIPPED_SUFFIXES) or (item.name in SKIPPED_DIR_NAMES and item.is_dir()):
            continue
        if exclude and path.resolve() in exclude:
            continue
        if item.is_symlink():
            target = path.resolve()
            if target.is_dir():
                raise ArchiveError(
                    f"{str(path)!r} is a link to a folder; pack does not follow folder links "
                    "(copy the folder in instead)"
                )
            if not target.is_file():
                raise ArchiveError(f"{str(path)!r} is a link to {str(target)!r}, which is not a file")
            members[arcname] = _file_entry(arcname, target)
        elif item.is_dir(follow_symlinks=False):
            members[arcname] = PackEntry(arcname, None)
            _collect(path, arcname, members, exclude)
        elif item.is_file(follow_symlinks=False):
            members[arcname] = _file_entry(arcname, path)
        else:
            raise ArchiveError(
                f"{str(path)!r} is not a regular file or folder (a socket, FIFO or device); "
                "only files and folders can be packed"
            )


def _file_entry(arcname: str, source: Path) -> PackEntry:
    """A file member; only the owner-execute bit of the source's mode is kept."""
    info = source.stat()
    return PackEntry(arcname, source, size=info.st_size, executable=bool(info.st_mode & stat.S_IXUSR))


def _warn_about_code(entries: list[PackEntry]) -> None:
    """Warn when the archive has no handler module SageMaker would find by default."""
    scripts = [
        entry.arcname[len(CODE_DIR) + 1 :]
        for entry in entries
        if not entry.is_dir and entry.arcname.startswith(CODE_DIR + "/") and entry.arcname.endswith(".py")
    ]
    if DEFAULT_ENTRY_SCRIPT in scripts:
        return
    if scripts:
        warnings.warn(
            f"code/ has no {DEFAULT_ENTRY_SCRIPT}; set SAGEMAKER_PROGRAM to the entry script "
            f"(one of: {', '.join(scripts)})",
            ArchiveWarning,
            stacklevel=3,
        )
    else:
        warnings.warn(
            f"the archive has no code/{DEFAULT_ENTRY_SCRIPT}: only SageMaker's default handlers apply, "
            "and only PyTorch has a default model_fn (a TorchScript model.pt/.pth); "
            "add --code inference.py for other models",
            ArchiveWarning,
            stacklevel=3,
        )


def _write_archive(entries: list[PackEntry], output: Path, progress: ProgressCallback | None) -> None:
    """Write the entries as a deterministic gzip tar beside ``output``, then rename it into place."""
    total = sum(entry.size for entry in entries)
    done = 0
    partial = output.with_name(f".{output.name}.{secrets.token_hex(4)}.partial")
    try:
        with (
            open(partial, "wb") as raw,
            # filename="" and mtime=0 keep the output's name and the clock out of the gzip header.
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=FIXED_MTIME, compresslevel=COMPRESS_LEVEL) as gz,
            tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for entry in entries:
                info = _tar_info(entry)
                if entry.source is None:
                    tar.addfile(info)
                    continue
                with open(entry.source, "rb") as handle:
                    info.size = os.fstat(handle.fileno()).st_size
                    tar.addfile(info, handle)
                done += info.size
                if progress is not None:
                    progress(done, max(total, done))
        os.replace(partial, output)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _tar_info(entry: PackEntry) -> tarfile.TarInfo:
    """A tar header with fixed owner, time and mode, so identical inputs give identical bytes."""
    info = tarfile.TarInfo(entry.arcname)
    info.mtime = FIXED_MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if entry.is_dir:
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
    else:
        info.type = tarfile.REGTYPE
        info.mode = 0o755 if entry.executable else 0o644
        info.size = entry.size
    return info
