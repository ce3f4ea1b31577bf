"""Hostile archives, unpacked in a child process: each is refused with a clear error, nothing is
written outside the destination, nothing is left in it, and the child's peak RSS stays < 500 MB.

The big ones (a million entries, a 10 GiB gzip bomb) are generated once per session, quickly: the
million headers from one template, the bomb as concatenated gzip members of 1 MiB of zeros.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tarfile
import time
import zlib
from pathlib import Path

import pytest
from tests.helpers.archive import tar_info, tree, write_tar

from modelport.archive import UnsafeArchiveError, safe_extract
from modelport.archive.unpack import check_links_inside

MiB, GiB = 2**20, 2**30
PEAK_RSS_LIMIT = 500 * MiB

UNPACK_IN_CHILD = """
import json, sys, time
from pathlib import Path
from modelport.archive import ArchiveError, UnsafeArchiveError, safe_extract

started = time.monotonic()
result = {}
try:
    safe_extract(sys.argv[1], Path(sys.argv[2]))
    result["error"] = None
except UnsafeArchiveError as error:
    result.update(error="unsafe", member=error.member, message=str(error))
except ArchiveError as error:
    result.update(error="archive", message=str(error))
result["seconds"] = time.monotonic() - started
status = Path("/proc/self/status").read_text()
result["peak_rss"] = int(next(l for l in status.splitlines() if l.startswith("VmHWM:")).split()[1]) * 1024
print(json.dumps(result))
"""


def unpack_in_child(archive: Path, destination: Path, env: dict[str, str] | None = None) -> dict:
    """Run safe_extract in a fresh Python; its outcome, time and peak RSS (VmHWM)."""
    child_env = {**os.environ, **(env or {})}
    done = subprocess.run(
        [sys.executable, "-c", UNPACK_IN_CHILD, str(archive), str(destination)],
        capture_output=True, text=True, env=child_env, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_refused_cleanly(tmp_path: Path, archive: Path, rule: str, env: dict[str, str] | None = None) -> dict:
    """Unpack ``archive`` into tmp_path/models/m beside a sentinel folder; check the refusal."""
    (tmp_path / "models").mkdir()
    (tmp_path / "sentinel").mkdir()
    (tmp_path / "sentinel" / "keep.txt").write_text("untouched")
    before = tree(tmp_path)
    result = unpack_in_child(archive, tmp_path / "models" / "m", env)
    assert result["error"] == "unsafe", result
    assert rule in result["message"], result
    assert tree(tmp_path) == before  # nothing outside, nothing left in models/ (not even staging)
    assert result["peak_rss"] < PEAK_RSS_LIMIT, result
    return result


OK_FILE = (tar_info("model.json"), b'{"scale": 2.0}')
LINK = tarfile.SYMTYPE

CASES = {
    "absolute path": ([OK_FILE, (tar_info("/tmp/evil.py"), b"x")], "absolute paths are not allowed"),
    "dot-dot": ([OK_FILE, (tar_info("code/../../evil.py"), b"x")], "'..' path components"),
    "character device": ([OK_FILE, (tar_info("null", tarfile.CHRTYPE), None)], "device files"),
    "block device": ([OK_FILE, (tar_info("sda", tarfile.BLKTYPE), None)], "device files"),
    "fifo": ([OK_FILE, (tar_info("pipe", tarfile.FIFOTYPE), None)], "FIFOs"),
    # The chain: each link alone stays inside; together l2 resolves to the parent folder.
    "link chain, outer link first": (
        [(tar_info("l2", LINK, linkname="l1/.."), None), (tar_info("l1", LINK, linkname="."), None)],
        "passes through the link 'l1'",
    ),
    "link chain, inner link first": (
        [(tar_info("l1", LINK, linkname="."), None), (tar_info("l2", LINK, linkname="l1/.."), None)],
        "passes through the link 'l1'",
    ),
    "link chain then a write through it": (
        [
            (tar_info("l2", LINK, linkname="l1/.."), None),
            (tar_info("l1", LINK, linkname="."), None),
            (tar_info("l2/escaped.txt"), b"outside"),
        ],
        "goes through the symbolic link 'l2'",
    ),
    "deeper chain": (
        [
            (tar_info("a", tarfile.DIRTYPE), None),
            (tar_info("a/l2", LINK, linkname="l1/.."), None),  # lexically a/, really the parent of the root
            (tar_info("a/l1", LINK, linkname=".."), None),
        ],
        "passes through the link 'a/l1'",
    ),
    "path through a link stored later": (
        [(tar_info("d/model.py"), b"x"), (tar_info("d", LINK, linkname="."), None)],
        "goes through the symbolic link 'd'",
    ),
    "hard link to a link": (
        [OK_FILE, (tar_info("alias", LINK, linkname="model.json"), None), (tar_info("hard", tarfile.LNKTYPE, linkname="alias"), None)],
        "hard links to links are refused",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_archive_is_refused_in_a_child_with_nothing_written(tmp_path: Path, case: str) -> None:
    members, rule = CASES[case]
    archive = write_tar(tmp_path / "evil.tar.gz", members)
    assert_refused_cleanly(tmp_path, archive, rule)


def test_links_to_links_that_stay_inside_are_still_extracted(tmp_path: Path) -> None:
    # Shared libraries ship as chains of final-component links: libx.so -> libx.so.1 -> libx.so.1.2
    archive = write_tar(
        tmp_path / "ok.tar.gz",
        [
            (tar_info("lib", tarfile.DIRTYPE), None),
            (tar_info("lib/libx.so.1.2"), b"ELF"),
            (tar_info("lib/libx.so.1", LINK, linkname="libx.so.1.2"), None),
            (tar_info("lib/libx.so", LINK, linkname="libx.so.1"), None),
            (tar_info("libx.so", LINK, linkname="lib/libx.so"), None),
            (tar_info("same", LINK, linkname="lib/../lib/libx.so.1.2"), None),
        ],
    )
    out = safe_extract(archive, tmp_path / "m")
    assert (out / "libx.so").read_bytes() == b"ELF" and (out / "same").read_bytes() == b"ELF"


def test_extracted_links_are_checked_on_disk(tmp_path: Path) -> None:
    # The last line of defence, on a folder as an extraction could have left it.
    root = tmp_path / "extracted"
    (root / "a").mkdir(parents=True)
    (root / "a" / "inside").symlink_to("..")
    check_links_inside(root)
    (root / "a" / "outside").symlink_to("../..")
    with pytest.raises(UnsafeArchiveError, match="resolves outside the extraction folder") as raised:
        check_links_inside(root)
    assert raised.value.member == "a/outside"


def million_entries(path: Path, count: int = 1_000_000) -> Path:
    """A gzip tar of ``count`` empty files (~9 MB): one ustar header template, names and checksums patched."""
    template = tar_info("e0000000")
    template.mtime = 0
    header = bytearray(template.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"))
    header[148:156] = b" " * 8  # the checksum field counts as spaces
    base_sum = sum(header) - sum(b"0000000")
    middle, rest = bytes(header[8:148]), bytes(header[156:])
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as out:
        for start in range(0, count, 10_000):
            digits = [b"%07d" % i for i in range(start, min(start + 10_000, count))]
            out.write(compressor.compress(b"".join(b"e" + d + middle + b"%06o\x00 " % (base_sum + sum(d)) + rest for d in digits)))
        out.write(compressor.compress(bytes(2 * tarfile.BLOCKSIZE)) + compressor.flush())
    return path


def gzip_bomb(path: Path, files: int = 10, file_size: int = GiB) -> Path:
    """A valid tar.gz of ``files`` files of zeros (10 GiB by default) in ~10 MB.

    gzip streams may be concatenated members; 1 MiB of zeros compressed once is repeated.
    """
    zeros = gzip.compress(bytes(MiB), compresslevel=9, mtime=0)
    with open(path, "wb") as out:
        for index in range(files):
            info = tar_info(f"zeros-{index}.bin", size=file_size)
            out.write(gzip.compress(info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "strict"), mtime=0))
            for _ in range(file_size // MiB):
                out.write(zeros)
        out.write(gzip.compress(bytes(2 * tarfile.BLOCKSIZE), mtime=0))
    return path


@pytest.fixture(scope="session")
def big_archives(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {"million": million_entries(folder / "million.tar.gz"), "bomb": gzip_bomb(folder / "bomb.tar.gz")}


def test_a_million_entries_stop_at_the_entry_cap(tmp_path: Path, big_archives) -> None:
    archive = big_archives["million"]
    assert archive.stat().st_size < 20 * MiB
    result = assert_refused_cleanly(tmp_path, archive, "more than 100,000 entries (raise the limit with MODELPORT_MAX_ARCHIVE_ENTRIES)")
    assert result["member"] == "e0100000"  # the first entry past the cap: the rest was never read
    assert result["seconds"] < 20


def test_entry_cap_comes_from_the_environment(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "three.tar.gz", [(tar_info(f"f{i}"), b"x") for i in range(3)])
    result = assert_refused_cleanly(tmp_path, archive, "more than 2 entries", env={"MODELPORT_MAX_ARCHIVE_ENTRIES": "2"})
    assert result["member"] == "f2"
    extracted = unpack_in_child(archive, tmp_path / "models" / "ok", {"MODELPORT_MAX_ARCHIVE_ENTRIES": "3"})
    assert extracted["error"] is None and sorted(os.listdir(tmp_path / "models" / "ok")) == ["f0", "f1", "f2"]


def test_a_10_gib_gzip_bomb_is_refused_while_streaming(tmp_path: Path, big_archives) -> None:
    # The bomb is bounded by MODELPORT_MAX_ARCHIVE_BYTES (20 GiB by default, above this bomb, as a
    # real model can be that big): with 2 GiB it is refused at the third file's header, after
    # streaming through 2 GiB of zeros without holding them and without writing a byte.
    archive = big_archives["bomb"]
    assert archive.stat().st_size < 15 * MiB
    started = time.monotonic()
    result = assert_refused_cleanly(tmp_path, archive, "exceeds the limit of 2,147,483,648 bytes", env={"MODELPORT_MAX_ARCHIVE_BYTES": str(2 * GiB)})
    assert result["member"] == "zeros-2.bin"
    assert time.monotonic() - started < 30
