"""Trainer of `sentiment`: word + character TF-IDF (vectorizer.joblib) and a logistic regression (model.joblib).

Word uni/bi-grams catch phrases ("not good"); character 2–5-grams inside words survive the tweets'
spelling, hashtags and mangled emoji. Classes are weighted by their frequency (positive is the smallest
class), which is what macro-F1 rewards.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from modelport.training import datasets
from modelport.training.evaluation import classification_metrics
from modelport.training.run import TrainingRun, bar, dataset_info, step
from modelport.training.sources import SENTIMENT

NAME = "sentiment"
BAR = ("macro_f1", 0.73)
PARAMETERS = {
    "word_ngrams": [1, 2], "word_min_df": 2,
    "char_ngrams": [2, 5], "char_min_df": 3, "char_max_features": 200_000,
    "sublinear_tf": True, "C": 1.0, "class_weight": "balanced", "max_iter": 2000,
}
FAST_TRAIN_ROWS = 3000
FAST_PARAMETERS = {"char_max_features": 20_000}


def build_vectorizer(parameters: dict | None = None):
    """The unfitted TF-IDF feature union (words + characters)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    p = {**PARAMETERS, **(parameters or {})}
    return FeatureUnion([
        ("words", TfidfVectorizer(ngram_range=tuple(p["word_ngrams"]), min_df=p["word_min_df"],
                                  sublinear_tf=p["sublinear_tf"], dtype=np.float32)),
        ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(p["char_ngrams"]), min_df=p["char_min_df"],
                                  max_features=p["char_max_features"], sublinear_tf=p["sublinear_tf"],
                                  dtype=np.float32)),
    ])


def build_classifier(seed: int = 0, parameters: dict | None = None):
    """The unfitted linear classifier."""
    from sklearn.linear_model import LogisticRegression

    p = {**PARAMETERS, **(parameters or {})}
    return LogisticRegression(C=p["C"], class_weight=p["class_weight"], max_iter=p["max_iter"], random_state=seed)


def fit(texts: list[str], labels: np.ndarray, seed: int = 0, *, fast: bool = False, quiet: bool = False):
    """Fit (vectorizer, classifier) on the texts; the fit's wall time is in `classifier.fit_seconds_`."""
    parameters = FAST_PARAMETERS if fast else None
    vectorizer = build_vectorizer(parameters)
    classifier = build_classifier(seed, parameters)
    with step(f"fitting TF-IDF + logistic regression on {len(texts):,} texts", quiet=quiet) as timer:
        features = vectorizer.fit_transform(texts)
        classifier.fit(features, labels)
    classifier.fit_seconds_ = timer.seconds
    classifier.fit_cpu_seconds_ = timer.cpu_seconds
    return vectorizer, classifier


def predict(vectorizer, classifier, texts: list[str]) -> np.ndarray:
    """Predicted labels, as the endpoint answers them (argmax of the probabilities)."""
    return classifier.classes_[classifier.predict_proba(vectorizer.transform(texts)).argmax(axis=1)]


def save(vectorizer, classifier, artifacts: Path) -> list[str]:
    """Write vectorizer.joblib and model.joblib into `artifacts`; returns the file names."""
    import joblib

    artifacts.mkdir(parents=True, exist_ok=True)
    for part in vectorizer.transformer_list:
        # stop_words_ lists every pruned term: only for introspection, and most of the file's size
        if hasattr(part[1], "stop_words_"):
            del part[1].stop_words_
    joblib.dump(vectorizer, artifacts / "vectorizer.joblib", compress=3)
    joblib.dump(classifier, artifacts / "model.joblib")
    return ["vectorizer.joblib", "model.joblib"]


def run(artifacts: Path, *, fast: bool = False, seed: int = 0, data: Path | None = None,
        quiet: bool = False) -> TrainingRun:
    """Load the corpus, fit on the fixed train split, measure on the test split, save the artifacts."""
    texts, labels = datasets.load_sentiment(data)
    train, test = datasets.split(labels)
    if fast:
        train = datasets.subsample(train, labels, FAST_TRAIN_ROWS, seed)
    vectorizer, classifier = fit([texts[i] for i in train], labels[train], seed, fast=fast, quiet=quiet)
    with step(f"evaluating on {len(test):,} held-out texts", quiet=quiet):
        predicted = predict(vectorizer, classifier, [texts[i] for i in test])
        metrics = classification_metrics(labels[test], predicted, classifier.classes_)
    artifacts_written = save(vectorizer, classifier, artifacts)
    return record(vectorizer, classifier, metrics, labels, train, test, artifacts_written, seed=seed, fast=fast,
                  data=data)


def record(vectorizer, classifier, metrics: dict, labels: np.ndarray, train: np.ndarray, test: np.ndarray,
           artifacts: list[str], *, seed: int, fast: bool, data: Path | None = None) -> TrainingRun:
    """The run's record (what metrics.json holds) for a fitted model and its held-out metrics."""
    return TrainingRun(
        model=NAME, metrics=metrics, bar=bar(*BAR, metrics), dataset=dataset_info(SENTIMENT, data, len(labels)),
        split={**datasets.describe_split(labels, test), "train_rows_used": int(len(train)),
               "deduplicated": "repeated texts kept once before splitting"},
        parameters={**PARAMETERS, **(FAST_PARAMETERS if fast else {}),
                    "features": int(sum(len(part.vocabulary_) for _, part in vectorizer.transformer_list))},
        seed=seed, fast=fast, artifacts=artifacts, training_seconds=classifier.fit_seconds_,
        training_cpu_seconds=classifier.fit_cpu_seconds_,
    )
