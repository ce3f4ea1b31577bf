"""SageMaker handlers of the `sentiment` model: TF-IDF features (vectorizer.joblib) and a linear classifier
(model.joblib) that label short English texts negative, neutral or positive.

Runs unmodified in SageMaker's scikit-learn container and in modelport's runtime (`handler_utils.py` is
copied beside this file at pack time). Accepts application/json ({"text": "..."} or {"instances":
["...", ...]}) and text/plain (the body is one text); each text must be non-empty and at most 5,000
characters. Answers {"predictions": [{"label": "positive", "probabilities": {label: p, ...}}]} (or CSV).
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the shared module beside this file

import joblib  # noqa: E402

from handler_utils import MAX_INSTANCES, as_text, bad_request, media_type, pick_accept  # noqa: E402

MAX_CHARS = 5000
ACCEPTED = (
    'application/json as {"text": "..."} or {"instances": ["...", ...]}, or text/plain with the text as '
    f"the body; each text 1 to {MAX_CHARS:,} characters"
)
OUTPUT_TYPES = ("application/json", "text/csv")


def model_fn(model_dir):
    """Load the vectorizer and the classifier."""
    return {
        "vectorizer": joblib.load(os.path.join(model_dir, "vectorizer.joblib")),
        "model": joblib.load(os.path.join(model_dir, "model.joblib")),
    }


def input_fn(request_body, content_type):
    """Decode the request into a list of texts; 400 with the accepted forms when it is not one."""
    kind = media_type(content_type)
    text = as_text(request_body)
    if kind == "text/plain":
        texts = [text]
    elif kind == "application/json":
        texts = _texts_from_json(text)
    else:
        raise bad_request(f"unsupported Content-Type {content_type!r}; send {ACCEPTED}")
    for index, item in enumerate(texts):
        where = "the text" if len(texts) == 1 else f"text {index}"
        if not isinstance(item, str):
            raise bad_request(f"{where} is a {type(item).__name__}, not a string; send {ACCEPTED}")
        if not item.strip():
            raise bad_request(f"{where} is empty; send {ACCEPTED}")
        if len(item) > MAX_CHARS:
            raise bad_request(f"{where} has {len(item):,} characters; the limit is {MAX_CHARS:,}")
    return texts


def predict_fn(data, model):
    """(labels, probabilities (N, classes)) for the texts."""
    probabilities = model["model"].predict_proba(model["vectorizer"].transform(data))
    return [str(label) for label in model["model"].classes_], probabilities


def predict_batch_fn(inputs, model):
    """modelport's adaptive batching (SageMaker ignores it): every request's texts in one predict_fn call,
    split back into one (labels, probabilities) per request."""
    labels, probabilities = predict_fn([text for texts in inputs for text in texts], model)
    answers, start = [], 0
    for texts in inputs:
        answers.append((labels, probabilities[start:start + len(texts)]))
        start += len(texts)
    return answers


def output_fn(prediction, accept):
    """JSON {"predictions": [{"label", "probabilities"}]} (default) or CSV `label,p_<class>...`."""
    labels, probabilities = prediction
    kind = pick_accept(accept, OUTPUT_TYPES)
    best = probabilities.argmax(axis=1)
    if kind == "text/csv":
        rows = [",".join([labels[b]] + [repr(round(float(p), 6)) for p in row]) for b, row in zip(best, probabilities)]
        return "\n".join(rows) + "\n", kind
    predictions = [
        {"label": labels[b], "probabilities": {label: round(float(p), 6) for label, p in zip(labels, row)}}
        for b, row in zip(best, probabilities)
    ]
    return json.dumps({"predictions": predictions}), kind


def _texts_from_json(text):
    try:
        document = json.loads(text)
    except ValueError as e:
        raise bad_request(f"the body is not valid JSON ({e}); send {ACCEPTED}") from None
    if isinstance(document, str):
        return [document]
    if isinstance(document, dict) and "text" in document:
        return [document["text"]]
    if isinstance(document, dict) and "instances" in document:
        instances = document["instances"]
        if not isinstance(instances, list) or not instances:
            raise bad_request('"instances" must be a non-empty list of strings')
        if len(instances) > MAX_INSTANCES:
            raise bad_request(f"{len(instances)} texts in one request; the limit is {MAX_INSTANCES}")
        return instances
    raise bad_request(f"the JSON has neither a \"text\" nor an \"instances\" key; send {ACCEPTED}")
