"""Character-level tokenizer of the bundled chat model (deployable: no modelport imports).

This file is copied into the archive's ``code/`` folder, so ``inference.py`` and the trainer share it.
Ids: 0 is ``<unk>`` (any character not seen often enough in training), 1 is the end-of-turn newline,
the rest are the training corpus's characters by frequency.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

UNK = "\ufffd"
EOT = "\n"  # one line of text is one turn: the model ends a reply by writing a newline


class CharTokenizer:
    """Maps text to integer ids one character at a time, and back."""

    def __init__(self, chars: list[str]) -> None:
        self.chars = list(chars)
        self.index = {c: i for i, c in enumerate(self.chars)}
        self.unk_id = self.index[UNK]
        self.eot_id = self.index[EOT]

    @classmethod
    def build(cls, texts: list[str], min_count: int = 5) -> "CharTokenizer":
        """A vocabulary of the characters seen at least ``min_count`` times in ``texts``."""
        counts = Counter()
        for text in texts:
            counts.update(text)
        counts.pop(EOT, None)
        kept = [c for c, n in counts.most_common() if n >= min_count and c != UNK]
        return cls([UNK, EOT, *kept])

    @property
    def size(self) -> int:
        """Number of ids."""
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text`` (unknown characters become ``<unk>``)."""
        index, unk = self.index, self.unk_id
        return [index.get(c, unk) for c in text]

    def decode(self, ids) -> str:
        """Text of ``ids``."""
        return "".join(self.chars[int(i)] for i in ids)

    def save(self, path: Path) -> None:
        """Write the vocabulary as JSON."""
        Path(path).write_text(json.dumps({"chars": self.chars}, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "CharTokenizer":
        """Read a vocabulary written by ``save``."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8"))["chars"])
