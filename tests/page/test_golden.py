"""The page's golden vectors (page/src/__tests__/golden/*.json, checked by the page's Vitest suite against
the browser preprocessing) must still be what the Python MNIST preprocessing makes of their pictures:
if src/modelport/bundled_models/shared/mnist_preprocessing.py changes, this fails until `page/scripts/make_golden.py` is re-run."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = sorted((ROOT / "page" / "src" / "__tests__" / "golden").glob("*.json"))


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PRE = load_module(ROOT / "src" / "modelport" / "bundled_models" / "shared" / "mnist_preprocessing.py", "mnist_preprocessing_for_page")


def test_there_are_goldens_for_every_kind_of_picture():
    modes = {json.loads(p.read_text())["input"]["mode"] for p in GOLDEN}
    assert len(GOLDEN) >= 10 and modes == {"L", "RGB", "RGBA"}


@pytest.mark.parametrize("path", GOLDEN, ids=[p.stem for p in GOLDEN])
def test_golden_vector_is_what_the_python_preprocessing_makes_today(path):
    record = json.loads(path.read_text())
    spec = record["input"]
    image = Image.frombytes(spec["mode"], (spec["width"], spec["height"]), base64.b64decode(spec["data"]))
    now = PRE.preprocess_image(image).reshape(-1)
    expected = np.array(record["expected"], dtype=np.float32)
    assert now.shape == (784,)
    assert np.abs(now - expected).max() <= 1e-5, f"{path.name} is stale: re-run page/scripts/make_golden.py"


def test_the_generator_writes_the_same_goldens(tmp_path, monkeypatch):
    generator = load_module(ROOT / "page" / "scripts" / "make_golden.py", "make_golden_for_test")
    monkeypatch.setattr(generator, "OUT", tmp_path)
    generator.main()
    written = sorted(p.name for p in tmp_path.glob("*.json"))
    assert written == [p.name for p in GOLDEN]
    for name in written:
        assert (tmp_path / name).read_text() == (GOLDEN[written.index(name)]).read_text()
