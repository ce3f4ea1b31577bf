"""Request decoding and response encoding shared by both digit models (copied into code/ at pack time).

Requests become an (N, 784) float32 array of pixels in 0..1 (white digit on black, MNIST layout);
predictions, an (N, 10) array of class probabilities, become JSON, CSV or NPY.
"""

import base64
import binascii
import json
import math

import numpy as np

try:  # orjson parses 784 floats about 15x faster than json; SageMaker's containers may lack it
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    orjson = None

from handler_utils import MAX_INSTANCES, as_bytes, as_text, bad_request, media_type, pick_accept
from mnist_preprocessing import ImageError, preprocess_bytes
from npy_body import read_npy, write_npy

ACCEPTED = (
    'application/json as {"pixels": [784 floats 0..1]}, {"instances": [[784 floats 0..1], ...]} or '
    '{"image": "<base64 PNG/JPEG>"}; text/csv with one row of 784 values per digit; application/x-npy '
    "holding an N×784 or N×28×28 array; or the raw bytes of image/png, image/jpeg or application/x-image"
)
NUMBER_KINDS = "iufcm"  # the dtype kinds np.issubdtype(dtype, np.number) says yes to (timedelta is one)
# float32 bit patterns read as unsigned integers: every value in 0..1 (not -0.0) is at most the pattern of 1.0,
# and every negative number, NaN and infinity is above it
ONE_BITS = int(np.float32(1.0).view(np.uint32))
IMAGE_TYPES = ("image/png", "image/jpeg", "image/jpg", "application/x-image")
OUTPUT_TYPES = ("application/json", "text/csv", "application/x-npy")


def decode_digits(body, content_type) -> np.ndarray:
    """Turn a request into an (N, 784) float32 array of pixels in 0..1; 400 with the accepted forms otherwise."""
    kind = media_type(content_type)
    if kind == "application/json":
        pixels = _from_json(body)
    elif kind == "text/csv":
        pixels = _from_csv(as_text(body))
    elif kind == "application/x-npy":
        pixels = _from_npy(as_bytes(body))
    elif kind in IMAGE_TYPES:
        pixels = _from_image(as_bytes(body))
    else:
        raise bad_request(f"unsupported Content-Type {content_type!r}; send {ACCEPTED}")
    return _checked(pixels)


def encode_predictions(probabilities: np.ndarray, accept):
    """Encode (N, 10) probabilities for the Accept header; returns (body, content type).

    JSON: {"predictions": [{"label": 7, "probabilities": [10 floats]}]}; CSV: one row per digit,
    `label,p0,...,p9`; NPY: the (N, 10) float32 probabilities.
    """
    kind = pick_accept(accept, OUTPUT_TYPES)
    probabilities = np.asarray(probabilities, dtype=np.float32)
    labels = probabilities.argmax(axis=1)
    if kind == "application/x-npy":
        return write_npy(probabilities), kind
    rounded = probabilities.astype(np.float64).round(6).tolist()
    if kind == "text/csv":
        lines = [",".join([str(int(label))] + [repr(p) for p in row]) for label, row in zip(labels, rounded)]
        return "\n".join(lines) + "\n", kind
    predictions = [{"label": int(label), "probabilities": row} for label, row in zip(labels, rounded)]
    document = {"predictions": predictions}
    return (orjson.dumps(document) if orjson else json.dumps(document)), kind


def _parse_json(body):
    """The JSON document in `body`: orjson when it has it, else (and to word any error) the stdlib's parser,
    which also takes NaN and Infinity (turned away later as out of range, with that message)."""
    if orjson:
        try:
            return orjson.loads(body)
        except ValueError:
            pass
    return json.loads(as_text(body))


def _from_json(body):
    try:
        document = _parse_json(body)
    except ValueError as e:
        raise bad_request(f"the body is not valid JSON ({e}); send {ACCEPTED}") from None
    if isinstance(document, list):
        return _array(document, "the JSON array")
    if not isinstance(document, dict):
        raise bad_request(f"expected a JSON object; send {ACCEPTED}")
    if "image" in document:
        return _from_image(_base64(document["image"]))
    if "pixels" in document:
        pixels = _array(document["pixels"], '"pixels"')
        if pixels.shape not in ((784,), (28, 28)):
            raise bad_request(f'"pixels" must hold 784 values (or 28×28), got shape {pixels.shape}; for several digits use "instances"')
        return pixels
    if "instances" in document:
        instances = document["instances"]
        if not isinstance(instances, list) or not instances:
            raise bad_request('"instances" must be a non-empty list of digits, each 784 values in 0..1')
        return _array(instances, '"instances"')
    raise bad_request(f"the JSON object has none of the keys pixels, instances, image; send {ACCEPTED}")


def _array(value, what: str) -> np.ndarray:
    try:
        return np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError):
        raise bad_request(f"{what} must hold numbers only, in rows of 784 values (0..1)") from None


def _base64(value) -> bytes:
    if not isinstance(value, str) or not value:
        raise bad_request('"image" must be a base64 string of a PNG or JPEG file (a data: URL is fine too)')
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request('"image" is not valid base64; send the PNG or JPEG file base64-encoded') from None


def _from_csv(text: str) -> np.ndarray:
    rows = []
    for number, line in enumerate(text.strip().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append([float(v) for v in line.split(",")])
        except ValueError:
            raise bad_request(f"CSV line {number} is not all numbers; send {ACCEPTED}") from None
    if not rows:
        raise bad_request(f"the CSV body is empty; send {ACCEPTED}")
    if any(len(row) != 784 for row in rows):
        lengths = sorted({len(row) for row in rows})
        raise bad_request(f"every CSV row must hold 784 values (one digit, 0..1); got rows of {lengths} values")
    return np.asarray(rows, dtype=np.float32)


def _from_npy(data: bytes) -> np.ndarray:
    try:
        array = read_npy(data)
    except (ValueError, OSError, EOFError) as e:
        raise bad_request(f"the body is not a readable .npy array ({e}); send {ACCEPTED}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in NUMBER_KINDS:
        raise bad_request("the .npy array must hold numbers (N×784 or N×28×28 pixels in 0..1)")
    return array.astype(np.float32)


def _from_image(data: bytes) -> np.ndarray:
    try:
        return preprocess_bytes(data).reshape(1, 784)
    except ImageError as e:
        raise bad_request(f"{e}; send {ACCEPTED}") from None


def _checked(pixels: np.ndarray) -> np.ndarray:
    """Reshape to (N, 784) and check the values are finite and in 0..1."""
    shape = pixels.shape
    if shape == (784,) or shape == (28, 28):
        pixels = pixels.reshape(1, 784)
    elif pixels.ndim == 3 and shape[1:] == (28, 28):
        pixels = pixels.reshape(-1, 784)
    elif not (pixels.ndim == 2 and shape[1] == 784):
        raise bad_request(f"got an array of shape {shape}; each digit must be 784 values (or 28×28), i.e. N×784 or N×28×28")
    if len(pixels) == 0:
        raise bad_request(f"no digits in the request; send {ACCEPTED}")
    if len(pixels) > MAX_INSTANCES:
        raise bad_request(f"{len(pixels)} digits in one request; the limit is {MAX_INSTANCES}")
    # the common case in one pass: all in 0..1; otherwise one pass each for the extremes (a NaN anywhere makes
    # both NaN; an infinity is an extreme) and a clip only when the tolerance let something through
    if pixels.dtype == np.float32 and int(np.maximum.reduce(pixels.view(np.uint32), axis=None)) <= ONE_BITS:
        return pixels
    low, high = float(np.minimum.reduce(pixels, axis=None)), float(np.maximum.reduce(pixels, axis=None))
    if not (math.isfinite(low) and math.isfinite(high)):
        raise bad_request("pixel values must be finite numbers in 0..1 (no NaN or infinity)")
    if low < -1e-6 or high > 1 + 1e-6:
        hint = " (divide 0..255 grayscale by 255)" if high <= 255 and low >= 0 else ""
        raise bad_request(f"pixel values must be in 0..1{hint}; got values from {low:g} to {high:g}")
    return np.clip(pixels, 0.0, 1.0) if low < 0.0 or high > 1.0 else pixels
