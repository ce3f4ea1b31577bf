"""Held-out metrics of a classifier, in the shape metrics.json stores them."""

from __future__ import annotations

import numpy as np


def classification_metrics(y_true, y_pred, labels) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1 and the confusion matrix (rows = true labels)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    labels = list(labels)
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 6),
        "macro_f1": round(float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)), 6),
        "per_class": {
            str(label): {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4),
                         "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "labels": [label if isinstance(label, str) else int(label) for label in labels],
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "test_rows": int(len(y_true)),
    }


def misclassified(y_true, y_pred) -> np.ndarray:
    """Indices (into the test rows) where the prediction is wrong."""
    return np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))
