"""Build the PyTorch race's model: the bundled `mnist-pytorch` archive, trained by modelport's own trainer.

Output (default bench/.work/torch-model/): model.tar.gz (the SageMaker-layout archive `modelport train
mnist-pytorch` writes: model.pth + code/), artifacts/ (model.pth), metrics.json, digit_cnn.py (the network)
and npy_body.py (the .npy reader), copied for the peers, sample.json (784 floats: the first held-out digit of the fixed split), sample.npy
(the same digit as a 1×784 float32 array), reference.json (its 10 class probabilities, computed here with
the same network and weights) and meta.json. Skips the work when an up-to-date model is already there.

`--fast` trains with the trainer's fast settings (1 epoch on 1,000 digits, seconds instead of minutes):
the race times the forward pass, which does not depend on how well the weights were trained. When only
the bundled model's code changed since the weights were trained, the archive is repacked, not retrained.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

NAME = "mnist-pytorch"
# the bundled model's modules every peer runs too (bench/servers/torch/digit_work.py imports them from the
# model folder): the network and the .npy reader, so that the race compares servers, not codecs
PEER_MODULES = ("mnist-pytorch/code/digit_cnn.py", "shared/npy_body.py")


def copy_peer_modules(out: Path) -> None:
    """Copy PEER_MODULES from the bundled models' source into the model folder."""
    from modelport.training.packaging import models_root

    for module in PEER_MODULES:
        shutil.copy2(models_root() / module, out / Path(module).name)


def reference_probabilities(model_dir: Path, sample: np.ndarray) -> list[float]:
    """The sample's class probabilities from the trained weights (the gate every server must match)."""
    import torch

    from modelport.training.mnist_pytorch import network_module, probabilities

    model = network_module().DigitCNN()
    model.load_state_dict(torch.load(model_dir / "artifacts" / "model.pth", map_location="cpu", weights_only=True))
    model.eval()
    return [float(p) for p in probabilities(model, sample.reshape(1, 784))[0]]


def code_digest() -> str:
    """SHA-256 over the bundled model's code as packed (inference.py, the network, the shared modules)."""
    from modelport.training.packaging import assemble_code

    with tempfile.TemporaryDirectory() as scratch:
        code = assemble_code(NAME, Path(scratch) / "code")
        digest = hashlib.sha256()
        for path in sorted(code.iterdir()):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()


def trained(out: Path, fast: bool) -> bool:
    """Whether `out` holds weights, sample and reference trained with the same settings and torch version."""
    import torch

    meta_path = out / "meta.json"
    if not meta_path.exists() or not all((out / f).exists() for f in ("artifacts/model.pth", "sample.npy",
                                                                       "reference.json", "model.tar.gz")):
        return False
    meta = json.loads(meta_path.read_text())
    return meta.get("fast") == fast and meta.get("torch") == torch.__version__


def main(argv: list[str] | None = None) -> int:
    """Train (or keep) the model and write the archive, the sample and its reference probabilities."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / ".work" / "torch-model")
    parser.add_argument("--fast", action="store_true", help="the trainer's fast settings (1 epoch, 1,000 digits)")
    parser.add_argument("--force", action="store_true", help="retrain even when an up-to-date model exists")
    args = parser.parse_args(argv)
    out: Path = args.out
    if not args.force and trained(out, args.fast):
        meta = json.loads((out / "meta.json").read_text())
        digest = code_digest()
        if meta.get("code_sha256") != digest:  # the bundled code changed (e.g. batching): repack, keep the weights
            from modelport.training.packaging import package

            package(NAME, out / "artifacts", out / "model.tar.gz", quiet=True)
            copy_peer_modules(out)
            meta["code_sha256"] = digest
            (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
            print(f"make_torch_model: repacked {out / 'model.tar.gz'} with the current bundled code")
        else:
            print(f"make_torch_model: {out / 'model.tar.gz'} is up to date")
        return 0

    import torch

    from modelport.training import datasets, train
    from modelport.training.mnist_pytorch import FAST_TRAIN_ROWS

    archive = train(NAME, out, fast=args.fast)
    copy_peer_modules(out)
    images, labels, _, test = datasets.mnist_train_test(None, fast=args.fast, fast_rows=FAST_TRAIN_ROWS, seed=0)
    sample = np.asarray(images[test[0]], dtype=np.float32).reshape(1, 784)
    (out / "sample.json").write_text(json.dumps([float(v) for v in sample[0]]))
    np.save(out / "sample.npy", sample, allow_pickle=False)
    reference = reference_probabilities(out, sample)
    (out / "reference.json").write_text(json.dumps(reference))
    metrics = json.loads((out / "metrics.json").read_text())
    meta = {
        "model": NAME, "archive": str(archive), "fast": args.fast, "torch": torch.__version__,
        "numpy": np.__version__, "held_out_accuracy": metrics["metrics"]["accuracy"],
        "training_seconds": metrics["training_seconds"], "sample_label": int(labels[test[0]]),
        "sample_predicted": int(np.argmax(reference)),
        "code_sha256": code_digest(),
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"make_torch_model: wrote {archive} (held-out accuracy {meta['held_out_accuracy']:.4f}, "
          f"trained in {meta['training_seconds']:.0f} s{', fast settings' if args.fast else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
