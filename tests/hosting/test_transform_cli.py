"""`modelport transform` as a real process against hosting: an archive and a local folder in, `.out`
files and a progress report (records, MB, ETA) out; a failing record and bad options as clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers.transform import SCALE, make_transform_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return make_transform_archive(tmp_path_factory.mktemp("transform-cli-model"))


def modelport(hosting, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "MODELPORT_HOSTING_URL": hosting.url, "MODELPORT_HOSTING_TOKEN": hosting.token,
           "MODELPORT_HOME": str(hosting.home), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "modelport", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_transform_an_archive_over_a_folder_with_progress(hosting, archive, tmp_path):
    (tmp_path / "in").mkdir()
    records = [{"x": i, "sleep": 0.25} for i in range(14)]  # ~3.5 s: at least one progress line (every 2 s)
    (tmp_path / "in" / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    done = modelport(hosting, "transform", str(archive), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                     "-t", "application/jsonlines", "-a", "application/jsonlines", "--strategy", "single",
                     "--concurrency", "1", "--job-name", "cli-job")
    assert done.returncode == 0, done.stderr
    assert "transform job cli-job Completed: 14 records" in done.stdout
    progress = [line for line in done.stderr.splitlines() if line.startswith("transform job cli-job (")]
    assert progress and "MB" in progress[-1] and "records" in progress[-1] and "ETA" in progress[-1], done.stderr
    answers = [json.loads(line) for line in (tmp_path / "out" / "r.jsonl.out").read_text().splitlines()]
    assert [a["y"] for a in answers] == [r["x"] * SCALE for r in records]


def test_a_failing_record_is_reported_with_its_file_and_line(hosting, archive, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_text("1,2\nthree,4\n")
    done = modelport(hosting, "transform", str(archive), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
                     "-t", "text/csv", "-a", "text/csv", "--job-name", "cli-bad")
    assert done.returncode == 1
    assert "transform job cli-bad failed" in done.stderr and f"{tmp_path}/in/rows.csv line 2" in done.stderr
    assert not (tmp_path / "out" / "rows.csv.out").exists()


def test_a_model_by_name_and_bad_options(hosting, archive, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_text("1,2\n")
    done = modelport(hosting, "transform", "no-such-model", "-i", str(tmp_path / "in"), "-o", str(tmp_path / "o"),
                     "-t", "text/csv")
    assert done.returncode == 1 and "ValidationException" in done.stderr and "no-such-model" in done.stderr
    done = modelport(hosting, "transform", str(archive), "-i", str(tmp_path / "in"), "-o", str(tmp_path / "o"),
                     "--split", "paragraph")
    assert done.returncode == 1 and "--split must be 'line' or 'none'" in done.stderr
    done = modelport(hosting, "transform", "--help")
    assert done.returncode == 0 and "MaxConcurrentTransforms" in done.stdout and "--output" in done.stdout
