"""safe_extract and extract_cached: every unsafe member kind is refused and leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from tests.helpers.archive import make_model_dir, tar_info, tree, write_raw_header_tar, write_tar

from modelport.archive import (
    DEFAULT_MAX_BYTES,
    ArchiveError,
    UnsafeArchiveError,
    extract_cached,
    pack_archive,
    safe_extract,
)

OK_FILE = (tar_info("model.json"), b'{"scale": 2.0}')

# name -> (members, offending member, words of the rule in the message)
UNSAFE_CASES = {
    "absolute path": ([OK_FILE, (tar_info("/tmp/evil.py"), b"x")], "/tmp/evil.py", "absolute paths"),
    "dot-dot": ([OK_FILE, (tar_info("code/../../evil.py"), b"x")], "code/../../evil.py", "'..'"),
    "symlink escaping": (
        [OK_FILE, (tar_info("code/lib", tarfile.SYMTYPE, linkname="../../outside"), None)],
        "code/lib",
        "leaves the extraction folder",
    ),
    "absolute symlink": (
        [(tar_info("passwd", tarfile.SYMTYPE, linkname="/etc/passwd"), None)],
        "passwd",
        "absolute path",
    ),
    "write through a symlink": (
        [
            (tar_info("sub", tarfile.DIRTYPE), None),
            (tar_info("s", tarfile.SYMTYPE, linkname="sub"), None),
            (tar_info("s/evil.py"), b"x"),
        ],
        "s/evil.py",
        "goes through the symbolic link",
    ),
    "hard link escaping": (
        [OK_FILE, (tar_info("model.bin", tarfile.LNKTYPE, linkname="../secret"), None)],
        "model.bin",
        "leaves the extraction folder",
    ),
    "absolute hard link": (
        [(tar_info("shadow", tarfile.LNKTYPE, linkname="/etc/shadow"), None)],
        "shadow",
        "absolute path",
    ),
    "hard link to nothing stored": (
        [(tar_info("copy", tarfile.LNKTYPE, linkname="etc/hosts"), None)],
        "copy",
        "not a regular file earlier in the archive",
    ),
    "character device": ([OK_FILE, (tar_info("null", tarfile.CHRTYPE), None)], "null", "device files"),
    "block device": ([OK_FILE, (tar_info("sda", tarfile.BLKTYPE), None)], "sda", "device files"),
    "fifo": ([OK_FILE, (tar_info("pipe", tarfile.FIFOTYPE), None)], "pipe", "FIFOs"),
    "duplicate path": (
        [OK_FILE, (tar_info("model.json", tarfile.SYMTYPE, linkname="code"), None)],
        "model.json",
        "more than once",
    ),
}


def _assert_nothing_left(folder: Path, allowed: set[str]) -> None:
    """Only the files that were there before (the archive) remain in ``folder``."""
    assert {p.name for p in folder.iterdir()} == allowed


@pytest.mark.parametrize("case", sorted(UNSAFE_CASES))
def test_unsafe_member_is_refused_and_leaves_nothing(tmp_path: Path, case: str) -> None:
    members, offender, rule = UNSAFE_CASES[case]
    archive = write_tar(tmp_path / "evil.tar.gz", members)
    target_parent = tmp_path / "models"
    target_parent.mkdir()
    with pytest.raises(UnsafeArchiveError) as raised:
        safe_extract(archive, target_parent / "m")
    assert raised.value.member == offender
    assert offender in str(raised.value) and rule in str(raised.value)
    _assert_nothing_left(target_parent, set())
    _assert_nothing_left(tmp_path, {"evil.tar.gz", "models"})


def test_declared_size_bomb_is_refused_before_reading_data(tmp_path: Path) -> None:
    # One header claiming a terabyte and carrying no data: refused on the header alone.
    archive = write_raw_header_tar(tmp_path / "bomb.tar.gz", tar_info("weights.bin", size=10**12))
    with pytest.raises(UnsafeArchiveError, match=f"limit of {DEFAULT_MAX_BYTES:,} bytes") as raised:
        safe_extract(archive, tmp_path / "m")
    assert raised.value.member == "weights.bin"
    _assert_nothing_left(tmp_path, {"bomb.tar.gz"})


def test_total_size_over_the_limit_is_refused(tmp_path: Path) -> None:
    archive = write_tar(
        tmp_path / "big.tar.gz", [(tar_info("a.bin"), b"a" * 600), (tar_info("b.bin"), b"b" * 600)]
    )
    with pytest.raises(UnsafeArchiveError, match="limit of 1,000 bytes") as raised:
        safe_extract(archive, tmp_path / "m", max_bytes=1000)
    assert raised.value.member == "b.bin"  # the member that crossed the limit
    _assert_nothing_left(tmp_path, {"big.tar.gz"})
    assert safe_extract(archive, tmp_path / "m", max_bytes=1200).is_dir()  # exactly at the limit is fine


def test_limit_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = write_tar(tmp_path / "a.tar.gz", [(tar_info("a.bin"), b"a" * 300)])
    monkeypatch.setenv("MODELPORT_MAX_ARCHIVE_BYTES", "200")
    with pytest.raises(UnsafeArchiveError, match="MODELPORT_MAX_ARCHIVE_BYTES"):
        safe_extract(archive, tmp_path / "m")
    monkeypatch.setenv("MODELPORT_MAX_ARCHIVE_BYTES", "lots")
    with pytest.raises(ArchiveError, match="whole number of bytes"):
        safe_extract(archive, tmp_path / "m")
    monkeypatch.setenv("MODELPORT_MAX_ARCHIVE_BYTES", "300")
    assert (safe_extract(archive, tmp_path / "m") / "a.bin").stat().st_size == 300


def test_links_that_stay_inside_are_extracted(tmp_path: Path) -> None:
    archive = write_tar(
        tmp_path / "ok.tar.gz",
        [
            (tar_info("weights", tarfile.DIRTYPE), None),
            (tar_info("weights/model.pt"), b"torch"),
            (tar_info("model.pt", tarfile.SYMTYPE, linkname="weights/model.pt"), None),
            (tar_info("weights/alias.pt", tarfile.LNKTYPE, linkname="weights/model.pt"), None),
        ],
    )
    out = safe_extract(archive, tmp_path / "m")
    assert (out / "model.pt").is_symlink() and (out / "model.pt").read_bytes() == b"torch"
    assert (out / "weights" / "alias.pt").read_bytes() == b"torch"


def test_archive_made_by_tar_with_dot_root_is_accepted(tmp_path: Path) -> None:
    # `tar czf model.tar.gz -C model .` writes "./", "./model.json", ...: common, and valid.
    src = make_model_dir(tmp_path / "model")
    archive = tmp_path / "model.tar.gz"
    subprocess.run(["tar", "czf", str(archive), "-C", str(src), "."], check=True)
    with tarfile.open(archive) as tar:
        assert "./" in tar.getnames() or "." in tar.getnames()
    assert tree(safe_extract(archive, tmp_path / "m")) == tree(src)


def test_archive_made_the_sdk_documented_way_is_accepted(tmp_path: Path) -> None:
    # The SageMaker docs: `cd model_dir; tar czvf ../model.tar.gz *`.
    src = make_model_dir(tmp_path / "model")
    names = sorted(p.name for p in src.iterdir())
    subprocess.run(["tar", "czf", "../model.tar.gz", *names], cwd=src, check=True)
    assert tree(safe_extract(tmp_path / "model.tar.gz", tmp_path / "m")) == tree(src)


def test_plain_folder_and_file_uri(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    assert safe_extract(src, tmp_path / "unused") == src
    assert not (tmp_path / "unused").exists()
    archive = pack_archive(src, tmp_path / "model.tar.gz")
    out = safe_extract(f"file://{archive}", tmp_path / "m")
    assert tree(out) == tree(src)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p / "missing.tar.gz", "does not exist"),
        (lambda p: (p / "junk.tar.gz").write_bytes(b"this is not a tar") and p / "junk.tar.gz", "not a readable tar"),
        (lambda p: "s3://bucket/model.tar.gz", "only local paths and file:// URIs"),
    ],
)
def test_unreadable_inputs_are_clear_errors(tmp_path: Path, make, expected: str) -> None:
    with pytest.raises(ArchiveError, match=expected):
        safe_extract(make(tmp_path), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_truncated_archive_leaves_nothing(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    (src / "big.bin").write_bytes(bytes(range(256)) * 4096)
    archive = pack_archive(src, tmp_path / "model.tar.gz")
    archive.write_bytes(archive.read_bytes()[:-2000])
    with pytest.raises(ArchiveError):
        safe_extract(archive, tmp_path / "out" / "m")
    assert list((tmp_path / "out").iterdir()) == []


def test_non_empty_destination_is_refused_and_untouched(tmp_path: Path) -> None:
    archive = pack_archive(make_model_dir(tmp_path / "model"), tmp_path / "model.tar.gz")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(ArchiveError, match="not an empty folder"):
        safe_extract(archive, dest)
    assert tree(dest) == {"keep.txt": b"mine"}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert (safe_extract(archive, empty) / "model.json").is_file()


def test_extract_cached_reuses_the_extraction(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    archive = pack_archive(src, tmp_path / "model.tar.gz")
    cache = tmp_path / "cache"
    first = extract_cached(archive, cache)
    assert first.parent == cache and tree(first) == tree(src)
    (first / "marker").write_text("extracted once")  # would vanish if it were extracted again
    assert extract_cached(f"file://{archive}", cache) == first
    assert (first / "marker").read_text() == "extracted once"
    (src / "model.json").write_text('{"scale": 5.0}\n')
    changed = extract_cached(pack_archive(src, tmp_path / "model2.tar.gz"), cache)
    assert changed != first and (changed / "model.json").read_text() == '{"scale": 5.0}\n'
    assert _cache_folders(cache) == sorted([first.name, changed.name])
    os.utime(archive, (1_700_000_000, 1_700_000_000))  # same bytes, new identity: same folder
    assert extract_cached(archive, cache) == first


def test_extract_cached_refusal_leaves_cache_clean(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "evil.tar.gz", UNSAFE_CASES["dot-dot"][0])
    with pytest.raises(UnsafeArchiveError):
        extract_cached(archive, tmp_path / "cache")
    assert _cache_folders(tmp_path / "cache") == []


def test_extract_cached_from_two_processes_at_once(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    archive = pack_archive(src, tmp_path / "model.tar.gz")
    cache = tmp_path / "cache"
    script = (
        "import sys; from modelport.archive import extract_cached; "
        "print(extract_cached(sys.argv[1], sys.argv[2]))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(archive), str(cache)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(outputs) == 1
    (only,) = _cache_folders(cache)  # one complete folder, no staging leftovers
    assert str(cache / only) == outputs.pop() and tree(cache / only) == tree(src)


def _cache_folders(cache: Path) -> list[str]:
    """Names in the cache other than its key memo folder (.keys)."""
    return sorted(p.name for p in cache.iterdir() if p.name != ".keys")


def test_archive_written_like_the_sagemaker_sdk_is_accepted(tmp_path: Path) -> None:
    # The SDK repacks with tar.add(model_dir, arcname=os.sep): a root entry named "" and no folder.
    src = make_model_dir(tmp_path / "model")
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src, arcname="/")
    with tarfile.open(archive) as tar:
        assert tar.getnames()[0] == ""
    assert tree(safe_extract(archive, tmp_path / "m")) == tree(src)
