"""Trainer of `mnist-pytorch`: the small CNN of src/modelport/bundled_models/mnist-pytorch/code/digit_cnn.py → model.pth (state dict).

8,000 training digits are few for a CNN, so every batch is randomly rotated (±12°), scaled (±10%) and
shifted (±1.7 px) on the fly; AdamW with a one-cycle learning rate and light label smoothing finishes
in a few minutes on two CPU cores. The network class lives beside inference.py so that serving builds
exactly the network trained here.
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np

from modelport.training import datasets
from modelport.training.evaluation import classification_metrics
from modelport.process import available_cpus
from modelport.progress import progress
from modelport.training.packaging import models_root
from modelport.training.run import TrainingRun, bar, dataset_info, step
from modelport.training.sources import MNIST

NAME = "mnist-pytorch"
BAR = ("accuracy", 0.985)
PARAMETERS = {
    "epochs": 12, "batch_size": 128, "optimizer": "AdamW", "max_lr": 3e-3, "weight_decay": 1e-4,
    "schedule": "OneCycleLR", "label_smoothing": 0.05,
    "augment": {"rotate_degrees": 12, "scale": 0.1, "shift_fraction": 0.12},
}
FAST_PARAMETERS = {"epochs": 1}
FAST_TRAIN_ROWS = 1000


def network_module():
    """The module that defines `DigitCNN` (src/modelport/bundled_models/mnist-pytorch/code/digit_cnn.py), loaded from its file."""
    path = models_root() / NAME / "code" / "digit_cnn.py"
    spec = importlib.util.spec_from_file_location("modelport_bundled_digit_cnn", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def augment(batch, generator, settings: dict):
    """Random rotation, scale and shift of a (N, 1, 28, 28) batch, as one affine resampling."""
    import torch
    import torch.nn.functional as F

    n = batch.shape[0]

    def uniform(limit: float):
        return (torch.rand(n, generator=generator) * 2 - 1) * limit

    angle = uniform(math.radians(settings["rotate_degrees"]))
    scale = 1 + uniform(settings["scale"])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    shift_x, shift_y = uniform(settings["shift_fraction"]), uniform(settings["shift_fraction"])
    theta = torch.stack([torch.stack([cos, -sin, shift_x], 1), torch.stack([sin, cos, shift_y], 1)], 1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, align_corners=False, padding_mode="zeros")


def fit(images: np.ndarray, labels: np.ndarray, seed: int = 0, *, fast: bool = False, quiet: bool = False):
    """Train a DigitCNN on (N, 784) images in 0..1; returns the model in eval mode (`fit_seconds_` set)."""
    import torch
    import torch.nn.functional as F
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    p = {**PARAMETERS, **(FAST_PARAMETERS if fast else {})}
    threads = torch.get_num_threads()
    torch.set_num_threads(available_cpus())  # all the cores this process may use, no more (oversubscription is slower)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    try:
        model = network_module().DigitCNN()
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).view(-1, 1, 28, 28)
        y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
        steps_per_epoch = math.ceil(len(x) / p["batch_size"])
        optimizer = torch.optim.AdamW(model.parameters(), lr=p["max_lr"], weight_decay=p["weight_decay"])
        schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=p["max_lr"],
                                                       total_steps=p["epochs"] * steps_per_epoch)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("loss {task.fields[loss]}"),
                   TimeElapsedColumn(), TimeRemainingColumn())
        with step(f"training the CNN on {len(x):,} digits for {p['epochs']} epoch(s)", quiet=quiet, spinner=False) as timer, \
                progress("training the CNN, epoch 1", total=p["epochs"] * steps_per_epoch, unit="steps", columns=columns,
                         fields={"loss": "-"}, quiet=quiet) as tracker:
            model.train()
            for epoch in range(p["epochs"]):
                order = torch.randperm(len(x), generator=generator)
                for start in range(0, len(x), p["batch_size"]):
                    index = order[start: start + p["batch_size"]]
                    loss = F.cross_entropy(model(augment(x[index], generator, p["augment"])), y[index],
                                           label_smoothing=p["label_smoothing"])
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    schedule.step()
                    tracker.update(advance=1, description=f"training the CNN, epoch {epoch + 1}/{p['epochs']}",
                                   loss=f"{loss.item():.3f}")
        model.eval()
        model.fit_seconds_ = timer.seconds
        model.fit_cpu_seconds_ = timer.cpu_seconds
        return model
    finally:
        torch.set_num_threads(threads)


def probabilities(model, images: np.ndarray) -> np.ndarray:
    """(N, 10) class probabilities for (N, 784) images in 0..1."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).view(-1, 1, 28, 28)
    with torch.inference_mode():
        return torch.cat([torch.softmax(model(x[i: i + 1000]), dim=1) for i in range(0, len(x), 1000)]).numpy()


def predict(model, images: np.ndarray) -> np.ndarray:
    """Predicted digits (argmax of the probabilities)."""
    return probabilities(model, images).argmax(axis=1)


def save(model, artifacts: Path) -> list[str]:
    """Write the state dict to model.pth in `artifacts`; returns the file names."""
    import torch

    artifacts.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), artifacts / "model.pth")
    return ["model.pth"]


def run(artifacts: Path, *, fast: bool = False, seed: int = 0, data: Path | None = None,
        quiet: bool = False) -> TrainingRun:
    """Load MNIST, train on the fixed train split, measure on the test split, save the artifacts."""
    images, labels, train, test = datasets.mnist_train_test(data, fast=fast, fast_rows=FAST_TRAIN_ROWS, seed=seed)
    model = fit(images[train], labels[train], seed, fast=fast, quiet=quiet)
    with step(f"evaluating on {len(test):,} held-out digits", quiet=quiet):
        metrics = classification_metrics(labels[test], predict(model, images[test]), range(10))
    return record(model, metrics, labels, train, test, save(model, artifacts), seed=seed, fast=fast, data=data)


def record(model, metrics: dict, labels: np.ndarray, train: np.ndarray, test: np.ndarray, artifacts: list[str], *,
           seed: int, fast: bool, data: Path | None = None) -> TrainingRun:
    """The run's record (what metrics.json holds) for a trained model and its held-out metrics."""
    return TrainingRun(
        model=NAME, metrics=metrics, bar=bar(*BAR, metrics), dataset=dataset_info(MNIST, data, len(labels)),
        split={**datasets.describe_split(labels, test), "train_rows_used": int(len(train))},
        parameters={**PARAMETERS, **(FAST_PARAMETERS if fast else {}), "threads": available_cpus(),
                    "network": "DigitCNN (src/modelport/bundled_models/mnist-pytorch/code/digit_cnn.py)",
                    "trainable_weights": int(sum(p.numel() for p in model.parameters()))},
        seed=seed, fast=fast, artifacts=artifacts, training_seconds=model.fit_seconds_,
        training_cpu_seconds=model.fit_cpu_seconds_,
    )
