"""The MNIST image preprocessing shared by both digit models (src/modelport/bundled_models/shared/mnist_preprocessing.py)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "modelport" / "bundled_models" / "shared"))
import mnist_preprocessing as mp  # noqa: E402


def centre_of_mass(frame: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(frame.shape)
    return float((ys * frame).sum() / frame.sum()), float((xs * frame).sum() / frame.sum())


def ink_box(frame: np.ndarray, threshold: float = 0.1) -> tuple[int, int]:
    rows = np.flatnonzero((frame > threshold).any(axis=1))
    cols = np.flatnonzero((frame > threshold).any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def drawn_seven(size=(300, 400), ink=0, paper=255, mode="L", offset=(0, 0)) -> Image.Image:
    image = Image.new(mode, size, paper)
    dx, dy = offset
    ImageDraw.Draw(image).line([(60 + dx, 60 + dy), (220 + dx, 60 + dy), (110 + dx, 330 + dy)], fill=ink, width=22)
    return image


def test_dark_ink_on_paper_becomes_a_centred_white_digit_fitted_in_20px():
    frame = mp.preprocess_image(drawn_seven())
    assert frame.shape == (28, 28) and frame.dtype == np.float32
    assert 0.0 <= frame.min() and frame.max() <= 1.0 and frame.max() > 0.9
    cy, cx = centre_of_mass(frame)
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5
    assert max(ink_box(frame)) in (19, 20)  # the longer side fills the 20-pixel box
    assert frame[0].max() == 0 and frame[:, 0].max() == 0  # margins stay black


def test_light_ink_on_black_and_dark_ink_on_white_give_the_same_digit():
    dark_on_light = mp.preprocess_image(drawn_seven(ink=0, paper=255))
    light_on_dark = mp.preprocess_image(drawn_seven(ink=255, paper=0))
    assert np.abs(dark_on_light - light_on_dark).max() < 1e-5


def test_position_and_scale_of_the_drawing_do_not_matter():
    small_corner = drawn_seven(size=(900, 900), offset=(500, 450))
    reference = mp.preprocess_image(drawn_seven())
    moved = mp.preprocess_image(small_corner)
    assert np.abs(reference - moved).mean() < 0.02


def test_transparent_canvas_uses_alpha_as_ink():
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(0, 0, 0, 255), width=20)  # black stroke
    frame = mp.preprocess_image(canvas)
    height, width = ink_box(frame)
    assert height == 20 and width < 6  # a vertical bar: a "1"
    assert abs(centre_of_mass(frame)[1] - 14) <= 0.5


def test_png_and_jpeg_bytes_are_decoded():
    for fmt in ("PNG", "JPEG"):
        buffer = io.BytesIO()
        drawn_seven().convert("RGB").save(buffer, format=fmt)
        frame = mp.preprocess_bytes(buffer.getvalue())
        assert abs(centre_of_mass(frame)[0] - 14) <= 0.5


def test_a_real_mnist_digit_stays_close_to_itself():
    from modelport.training.datasets import load_mnist

    images, labels = load_mnist()
    digit = images[labels == 3][0].reshape(28, 28)
    again = mp.preprocess_ink(digit)
    assert np.abs(again - digit).mean() < 0.05  # MNIST digits were made with this very recipe


@pytest.mark.parametrize("make, message", [
    (lambda: Image.new("L", (50, 50), 255), "blank"),
    (lambda: Image.new("RGBA", (50, 50), (0, 0, 0, 0)), "blank"),
])
def test_blank_pictures_are_refused(make, message):
    with pytest.raises(mp.ImageError, match=message):
        mp.preprocess_image(make())


def test_bytes_that_are_not_an_image_are_refused():
    with pytest.raises(mp.ImageError, match="not a readable PNG or JPEG"):
        mp.preprocess_bytes(b"definitely not a picture")


def test_command_line_prints_golden_vectors(tmp_path):
    import json
    import subprocess

    path = tmp_path / "seven.png"
    drawn_seven().save(path)
    result = subprocess.run([sys.executable, mp.__file__, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["file"] == str(path)
    assert np.allclose(np.asarray(line["pixels"]).reshape(28, 28), mp.preprocess_image(drawn_seven()), atol=1e-6)
