"""MNIST-style preprocessing of a picture of one digit, shared by both digit models (copied into code/ at pack time).

The classic MNIST recipe: grayscale, light-on-dark ink (auto-inverted when the picture is dark ink on a
light background; transparent pictures use their alpha channel as ink), crop to the ink's bounding box,
fit into 20×20 keeping the aspect ratio, and paste into a 28×28 frame so that the ink's centre of mass
lands on pixel (14, 14). Plain functions with no serving dependencies, so golden vectors for other
implementations (the web page) can be produced from this file alone: `preprocess_image(PIL image)` and
`preprocess_ink(2-D array)` both return a (28, 28) float32 array in 0..1; `python mnist_preprocessing.py
IMAGE...` prints them as JSON.
"""

import io

import numpy as np

FRAME = 28
BOX = 20
CENTRE = 14.0
INK_THRESHOLD = 0.1  # ink below 10% of the darkest stroke is treated as background when cropping
MAX_SIDE = 4096


class ImageError(ValueError):
    """The picture cannot be turned into a digit; the message says why."""


def preprocess_bytes(data: bytes) -> np.ndarray:
    """Decode PNG/JPEG (or any format Pillow reads) bytes and preprocess them; (28, 28) float32 in 0..1."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError as e:  # pragma: no cover - only on containers without Pillow
        raise ImageError("image input needs Pillow installed (see code/requirements.txt)") from e
    try:
        image = Image.open(io.BytesIO(bytes(data)))
        if max(image.size) > MAX_SIDE:
            raise ImageError(f"image is {image.size[0]}×{image.size[1]} pixels; the largest accepted side is {MAX_SIDE}")
        image.load()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as e:
        raise ImageError(f"the bytes are not a readable PNG or JPEG image ({e})") from e
    return preprocess_image(image)


def preprocess_image(image) -> np.ndarray:
    """Preprocess a PIL image of one digit; (28, 28) float32 in 0..1, white digit on black."""
    return preprocess_ink(image_to_ink(image))


def image_to_ink(image) -> np.ndarray:
    """Ink intensity of a PIL image as a 2-D float32 array in 0..1 (1 = full ink), before cropping.

    Pictures with transparency use alpha as ink (a stroke drawn on a transparent canvas); others are
    converted to grayscale and inverted when their mean is light (dark ink on white paper).
    """
    from PIL import ImageOps

    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = np.asarray(image.convert("RGBA").getchannel("A"), dtype=np.float32) / 255.0
        if alpha.min() < 1.0:
            return alpha
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    return 1.0 - gray if gray.mean() > 0.5 else gray


def preprocess_ink(ink: np.ndarray) -> np.ndarray:
    """Crop, fit 20×20 keeping aspect and centre by mass in 28×28; `ink` is 2-D, 0..1, light-on-dark."""
    from PIL import Image

    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2:
        raise ImageError(f"expected a 2-D grayscale picture, got shape {ink.shape}")
    peak = float(ink.max()) if ink.size else 0.0
    if peak <= 0.02:
        raise ImageError("the picture is blank: no digit found (draw or photograph one digit)")
    ink = np.clip(ink / peak, 0.0, 1.0)  # stretch contrast so the strongest stroke is full ink
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    crop = ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    height, width = crop.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(Image.fromarray(crop, mode="F").resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    fitted = np.clip(fitted, 0.0, 1.0)
    frame = np.zeros((FRAME, FRAME), dtype=np.float32)
    mass = fitted.sum()
    ys, xs = np.indices(fitted.shape)
    cy, cx = (ys * fitted).sum() / mass, (xs * fitted).sum() / mass
    top = int(np.clip(round(CENTRE - cy), 0, FRAME - fitted.shape[0]))
    left = int(np.clip(round(CENTRE - cx), 0, FRAME - fitted.shape[1]))
    frame[top: top + fitted.shape[0], left: left + fitted.shape[1]] = fitted
    return frame


def main(paths) -> int:
    """Print one JSON line per image file: its name and the 784 preprocessed values (golden vectors)."""
    import json

    for path in paths:
        with open(path, "rb") as f:
            frame = preprocess_bytes(f.read())
        print(json.dumps({"file": str(path), "pixels": [round(float(v), 6) for v in frame.ravel()]}))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
