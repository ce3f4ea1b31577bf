"""The 30-second soak: `bench/soak.py` drives a real `modelport up --fast` stack through the gateway with good
and bad requests and checks its bars (no unexpected answers, stable p99, no memory growth, no leaked
descriptors). The 10-minute version is `make -C bench soak`. The stack's home starts with the session's fast-trained
bundled models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# its p99 must not grow by half from the first segment to the last: tests on another xdist worker starting
# up mid-soak took the cores and failed it once, so it runs alone (see the Makefile's `test`)
@pytest.mark.alone
def test_thirty_second_soak_passes_every_bar(tmp_path, bundled_home):
    report_file = tmp_path / "soak.json"
    shutil.copytree(bundled_home / "bundled", tmp_path / "home" / "bundled")  # current: `up --fast` trains nothing
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "soak.py"), "--seconds", "30", "--home", str(tmp_path / "home"),
         "--out", str(report_file)],
        capture_output=True, text=True, timeout=900, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    report = json.loads(report_file.read_text())
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert report["failures"] == []
    segments = report["segments"]
    assert len(segments) == 3
    # every client did real work in every segment: predictions, chat and refused requests
    assert all(s["good_requests"] > 0 and s["chat_requests"] > 0 and s["bad_requests"] > 0 for s in segments)
    roles = {p["role"] for p in report["after"]}
    assert {"hosting and gateway", "runtime worker"} <= roles
    # the stack was stopped: no process of it is left
    assert not (tmp_path / "home" / "stack.json").exists()
