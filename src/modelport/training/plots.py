"""Figures the training notebooks show: digit grids, class balance, confusion matrices (matplotlib)."""

from __future__ import annotations

from collections import Counter

import numpy as np


def digit_grid(images: np.ndarray, titles: list[str] | None = None, columns: int = 10, size: float = 1.1):
    """A grid of 28×28 digits (rows of `columns`), each with an optional title; returns the figure."""
    import matplotlib.pyplot as plt

    rows = max(1, int(np.ceil(len(images) / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * 1.15), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            axis.imshow(np.asarray(images[index]).reshape(28, 28), cmap="gray", vmin=0, vmax=1)
            if titles:
                axis.set_title(titles[index], fontsize=8)
    figure.tight_layout()
    return figure


def class_balance(labels, title: str = "class balance"):
    """A bar chart of how many rows each label has; returns the figure."""
    import matplotlib.pyplot as plt

    counts = sorted(Counter(np.asarray(labels).tolist()).items())
    figure, axis = plt.subplots(figsize=(6, 2.5))
    axis.bar([str(k) for k, _ in counts], [v for _, v in counts], color="#4c72b0")
    axis.set_title(title)
    axis.set_ylabel("rows")
    figure.tight_layout()
    return figure


def confusion(metrics: dict, title: str = "confusion matrix (held-out)"):
    """The confusion matrix stored in a metrics dict (rows = true label); returns the figure."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    labels = [str(label) for label in metrics["labels"]]
    figure, axis = plt.subplots(figsize=(5, 4.5))
    ConfusionMatrixDisplay(np.asarray(metrics["confusion_matrix"]), display_labels=labels).plot(
        ax=axis, colorbar=False, cmap="Blues")
    axis.set_title(title)
    figure.tight_layout()
    return figure
