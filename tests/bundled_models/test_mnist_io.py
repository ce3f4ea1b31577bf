"""The digit models' request check (src/modelport/bundled_models/shared/mnist_io.py): pixels must be finite and
in 0..1; values a rounding error outside are clipped, anything further is a 400 that says what is accepted."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "modelport" / "bundled_models" / "shared"))
from mnist_io import decode_digits  # noqa: E402
from npy_body import write_npy  # noqa: E402

NPY = "application/x-npy"


def _digits(*values: float, rows: int = 2) -> np.ndarray:
    pixels = np.random.default_rng(1).random((rows, 784), dtype=np.float32)
    pixels[-1, : len(values)] = values
    return pixels


def _refusal(pixels: np.ndarray) -> str:
    with pytest.raises(Exception) as refused:
        decode_digits(write_npy(pixels), NPY)
    status, message = refused.value.args[:2]
    assert status == 400
    return message


def test_pixels_in_range_come_back_unchanged_and_writable():
    pixels = _digits(0.0, 1.0)
    decoded = decode_digits(write_npy(pixels), NPY)
    assert decoded.dtype == np.float32 and decoded.shape == (2, 784)
    np.testing.assert_array_equal(decoded, pixels)
    decoded[0, 0] = 0.5  # a copy of the body, not a view of it: the model may work in place


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.uint8])
def test_pixels_of_another_number_type_come_back_as_float32(dtype):
    pixels = (_digits(0.0, 1.0) > 0.5).astype(dtype)
    decoded = decode_digits(write_npy(pixels), NPY)
    assert decoded.dtype == np.float32
    np.testing.assert_array_equal(decoded, pixels.astype(np.float32))


def test_negative_zero_is_a_zero_pixel():
    decoded = decode_digits(write_npy(_digits(-0.0, 0.25)), NPY)
    assert decoded[-1, 0] == 0.0 and decoded[-1, 1] == 0.25


@pytest.mark.parametrize("value", [np.nan, -np.nan, np.inf, -np.inf])
def test_a_single_non_finite_pixel_is_refused(value):
    assert "finite" in _refusal(_digits(0.5, value))


def test_a_rounding_error_outside_0_1_is_clipped():
    decoded = decode_digits(write_npy(_digits(-5e-7, 1 + 5e-7)), NPY)
    assert decoded.min() == 0.0 and decoded.max() == 1.0


@pytest.mark.parametrize("value, hint", [(1.01, True), (-0.2, False), (255.0, True)])
def test_pixels_outside_0_1_are_refused_with_their_range(value, hint):
    # values within 0..255 may be grayscale bytes: the message says how to scale them
    message = _refusal(_digits(value))
    assert "0..1" in message and f"{value:g}" in message
    assert ("divide 0..255" in message) is hint
