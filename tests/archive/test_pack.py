"""pack_archive: SageMaker layout, deterministic bytes, --code handling, clear refusals."""

from __future__ import annotations

import gzip
import os
import stat
import tarfile
import warnings
from pathlib import Path

import pytest
from tests.helpers.archive import make_model_dir, tree

from modelport.archive import ArchiveError, ArchiveWarning, pack_archive, safe_extract


def _pack(*args, **kwargs) -> tuple[Path, list[str]]:
    """Pack and return the archive path with the warning messages raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pack_archive(*args, **kwargs)
    return out, [str(w.message) for w in caught if issubclass(w.category, ArchiveWarning)]


def test_layout_has_artifacts_at_root_and_code_folder(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    out, messages = _pack(src, tmp_path / "model.tar.gz")
    assert messages == []
    with tarfile.open(out) as tar:
        names = tar.getnames()
        infos = tar.getmembers()
    assert names == [
        "code",
        "code/inference.py",
        "code/requirements.txt",
        "model.json",
        "weights",
        "weights/layer.bin",
    ]
    for info in infos:
        assert info.uid == info.gid == 0 and info.mtime == 0 and info.uname == info.gname == ""
    assert {info.name: info.isdir() for info in infos}["code"] is True


def test_bytes_have_no_top_level_folder_and_a_fixed_gzip_header(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    out, _ = _pack(src, tmp_path / "model.tar.gz")
    raw = out.read_bytes()
    assert raw[:3] == b"\x1f\x8b\x08"  # gzip, deflate
    assert raw[3] & 0x08 == 0  # no file name stored in the gzip header
    assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0
    plain = gzip.decompress(raw)
    assert plain[:100].rstrip(b"\0") == b"code/"  # the first header: code/ at the root
    assert b"model/" not in plain  # the source folder's name appears nowhere
    assert plain[512 : 512 + 100].rstrip(b"\0") == b"code/inference.py"


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    first, _ = _pack(src, tmp_path / "a.tar.gz")
    # New times and a new output name must not change a byte.
    for path in src.rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    second, _ = _pack(src, tmp_path / "b.tar.gz")
    assert first.read_bytes() == second.read_bytes()
    (src / "model.json").write_text('{"scale": 3.0}\n')
    third, _ = _pack(src, tmp_path / "c.tar.gz")
    assert third.read_bytes() != first.read_bytes()


def test_round_trip_gives_back_the_same_files(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o755)
    out, _ = _pack(src, tmp_path / "model.tar.gz")
    unpacked = safe_extract(out, tmp_path / "unpacked")
    assert tree(unpacked) == tree(src)
    assert (unpacked / "run.sh").stat().st_mode & stat.S_IXUSR
    assert not (unpacked / "model.json").stat().st_mode & stat.S_IXUSR


def test_code_file_goes_to_code_folder_and_not_to_the_root(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model", with_code=False)
    (src / "inference.py").write_text("def model_fn(model_dir):\n    return 1\n")
    out, messages = _pack(src, tmp_path / "model.tar.gz", code=src / "inference.py")
    assert messages == []
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "code/inference.py" in names and "inference.py" not in names


def test_code_folder_replaces_code_and_warns(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    other = tmp_path / "src"
    (other / "lib").mkdir(parents=True)
    (other / "inference.py").write_text("# new handler\n")
    (other / "lib" / "helpers.py").write_text("X = 1\n")
    out, messages = _pack(src, tmp_path / "model.tar.gz", code=other)
    assert any("replaced by the --code folder" in m for m in messages)
    unpacked = tree(safe_extract(out, tmp_path / "x"))
    assert unpacked["code/inference.py"] == b"# new handler\n"
    assert unpacked["code/lib/helpers.py"] == b"X = 1\n"
    assert "code/requirements.txt" not in unpacked  # the old code/ is gone, as the SDK does


def test_missing_inference_py_warns_but_packs(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model", with_code=False)
    out, messages = _pack(src, tmp_path / "model.tar.gz")
    assert out.is_file()
    assert len(messages) == 1 and "no code/inference.py" in messages[0] and "TorchScript" in messages[0]


def test_other_entry_script_warns_about_sagemaker_program(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model", with_code=False)
    script = tmp_path / "serve_me.py"
    script.write_text("def model_fn(d):\n    return 1\n")
    _, messages = _pack(src, tmp_path / "model.tar.gz", code=script)
    assert len(messages) == 1 and "SAGEMAKER_PROGRAM" in messages[0] and "serve_me.py" in messages[0]


def test_byte_code_caches_are_not_packed(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    (src / "code" / "__pycache__").mkdir()
    (src / "code" / "__pycache__" / "inference.cpython-311.pyc").write_bytes(b"\0" * 16)
    out, _ = _pack(src, tmp_path / "model.tar.gz")
    with tarfile.open(out) as tar:
        assert not [n for n in tar.getnames() if "pycache" in n or n.endswith(".pyc")]


def test_linked_files_are_stored_as_their_contents(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    (tmp_path / "big.bin").write_bytes(b"weights")
    (src / "big.bin").symlink_to(tmp_path / "big.bin")
    out, _ = _pack(src, tmp_path / "model.tar.gz")
    with tarfile.open(out) as tar:
        member = tar.getmember("big.bin")
        assert member.isreg() and tar.extractfile(member).read() == b"weights"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing source", "does not exist"),
        ("source is a file", "is not a folder"),
        ("output inside source", "inside the source folder"),
        ("output is a folder", "is a folder"),
        ("missing code", "--code"),
        ("empty source", "nothing to pack"),
    ],
)
def test_refusals_name_the_problem(tmp_path: Path, case: str, expected: str) -> None:
    src = make_model_dir(tmp_path / "model")
    output = tmp_path / "model.tar.gz"
    code = None
    if case == "missing source":
        src = tmp_path / "nope"
    elif case == "source is a file":
        src = src / "model.json"
    elif case == "output inside source":
        output = src / "sub" / "model.tar.gz"
    elif case == "output is a folder":
        output = tmp_path / "out"
        output.mkdir()
    elif case == "missing code":
        code = tmp_path / "inference.py"
    elif case == "empty source":
        src = tmp_path / "empty"
        src.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ArchiveError, match=expected):
        pack_archive(src, output, code)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


def test_failed_pack_leaves_no_partial_file(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    os.mkfifo(src / "pipe")
    with pytest.raises(ArchiveError, match="not a regular file or folder"):
        pack_archive(src, tmp_path / "out" / "model.tar.gz")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_progress_reports_all_bytes(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    calls: list[tuple[int, int]] = []
    pack_archive(src, tmp_path / "model.tar.gz", progress=lambda done, total: calls.append((done, total)))
    total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert calls[-1] == (total, total)


def test_interrupted_pack_leaves_no_partial_file(tmp_path: Path) -> None:
    src = make_model_dir(tmp_path / "model")
    out_dir = tmp_path / "out"

    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pack_archive(src, out_dir / "model.tar.gz", progress=stop)
    assert list(out_dir.iterdir()) == []  # neither the archive nor a .partial file
