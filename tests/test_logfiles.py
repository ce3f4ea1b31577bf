"""Rotating logs fed by a child process's output (``modelport/logfiles.py``): size-capped files, the
newest output kept, and a full disk that drops bytes instead of failing the process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from modelport.logfiles import RotatingLog, pump


def run_chatty_child(log: RotatingLog, total: int) -> None:
    """A real child writing ``total`` numbered bytes to its stdout, piped into ``log``."""
    read_end, write_end = os.pipe()
    script = ("import sys\n"
              f"for i in range({total} // 100): sys.stdout.write(f'{{i:09d}}' + 'x' * 90 + '\\n')\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=write_end, stderr=subprocess.STDOUT)
    os.close(write_end)
    thread = pump(read_end, log)
    assert child.wait(60) == 0
    thread.join(30)
    assert not thread.is_alive()


def test_a_chatty_child_cannot_grow_its_log_past_the_cap(tmp_path):
    path = tmp_path / "instance.log"
    log = RotatingLog(path, max_bytes=100_000, backups=2)
    run_chatty_child(log, 1_000_000)
    log.close()
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["instance.log", "instance.log.1", "instance.log.2"]
    sizes = [(tmp_path / name).stat().st_size for name in files]
    assert all(size <= 100_000 + 65_536 for size in sizes), sizes  # at most one pipe read over the cap
    newest = path.read_text().splitlines()
    assert newest[-1].startswith("000009999")  # the latest output is kept, the oldest dropped
    assert "000000000" not in "".join((tmp_path / name).read_text()[:9] for name in files)


def test_a_line_arriving_in_pieces_is_not_split_across_a_rotation(tmp_path):
    path = tmp_path / "a.log"
    log = RotatingLog(path, max_bytes=1000, backups=1)
    log.write(b"a" * 900 + b"\n")
    log.write(b"b" * 50)  # fits: the line begins in the current file
    log.write(b"b" * 300)  # would pass the size, but the line is not finished: it stays with its beginning
    log.write(b"b" * 100 + b"\nc")  # the line ends here; what follows starts the next file
    log.write(b"c\n")
    log.close()
    assert path.with_name("a.log.1").read_bytes() == b"a" * 900 + b"\n" + b"b" * 450 + b"\n"
    assert path.read_bytes() == b"cc\n"


def test_a_line_longer_than_the_slack_is_split_so_files_stay_bounded(tmp_path):
    path = tmp_path / "a.log"
    log = RotatingLog(path, max_bytes=1000, backups=3)
    log.write(b"x" * 500)
    for _ in range(4):
        log.write(b"x" * 40_000)  # one line of 160 kB, never ended
    log.close()
    sizes = {p.name: p.stat().st_size for p in tmp_path.iterdir()}
    assert all(size <= 1000 + 65_536 for size in sizes.values()), sizes
    assert sum(sizes.values()) == 500 + 160_000  # nothing lost: split, not dropped


def test_settings_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPORT_LOG_MAX_MB", "0.05")
    monkeypatch.setenv("MODELPORT_LOG_BACKUPS", "1")
    log = RotatingLog(tmp_path / "x.log")
    assert (log.max_bytes, log.backups) == (int(0.05 * 1024 * 1024), 1)
    run_chatty_child(log, 200_000)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.log", "x.log.1"]


def test_a_full_disk_drops_output_without_failing_and_says_so(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (not root?): {done.stderr.strip()}")
    try:
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as out:
            try:
                while True:
                    out.write(b"\0" * 4096)
            except OSError:
                pass
        log = RotatingLog(disk / "a.log", max_bytes=10_000_000, backups=1)
        log.write(b"lost line\n" * 1000)  # no space: dropped, no exception
        filler.unlink()
        log.write(b"after\n")
        log.close()
        text = (disk / "a.log").read_text()
        assert "10000 bytes of output were lost (No space left on device)" in text
        assert text.endswith("after\n") and "lost line" not in text
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
