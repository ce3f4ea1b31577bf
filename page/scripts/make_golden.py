"""Write golden vectors for the page's preprocessing test: input pictures and what the Python MNIST
preprocessing (src/modelport/bundled_models/shared/mnist_preprocessing.py, used by both digit models) makes of them.

The page's Vitest suite (src/__tests__/golden.test.js) runs the browser implementation on the same
pictures and requires agreement within 1/255 per pixel. Pictures: real MNIST test digits enlarged and
moved off-centre (light on dark, dark on light paper, coloured ink, on a transparent background),
strokes drawn like the page's canvas, and shape extremes (thin, wide, tiny, faint).

Run from the repository root: `.venv/bin/python page/scripts/make_golden.py`.
"""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "src" / "modelport" / "bundled_models" / "shared" / "mnist_preprocessing.py"
SAMPLES = ROOT / "page" / "src" / "data" / "samples.json"
OUT = ROOT / "page" / "src" / "__tests__" / "golden"


def load_preprocessing():
    """The Python preprocessing module, loaded from its file (it is copied into archives, not installed)."""
    spec = importlib.util.spec_from_file_location("mnist_preprocessing", SHARED)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digit(sample: dict) -> Image.Image:
    """A 28×28 MNIST digit (white on black) as a PIL image."""
    return Image.fromarray(np.array(sample["pixels"], dtype=np.uint8).reshape(28, 28), mode="L")


def on_canvas(image: Image.Image, size: tuple[int, int], at: tuple[int, int], background: int = 0) -> Image.Image:
    """`image` pasted at `at` on a `size` canvas of one gray level."""
    canvas = Image.new("L", size, background)
    canvas.paste(image, at)
    return canvas


def strokes(points_list: list[list[tuple[int, int]]], size: int = 140, width: int = 11) -> Image.Image:
    """Round-capped white strokes on black, like the page's drawing canvas (at half its size)."""
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    for points in points_list:
        draw.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            r = width // 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return image


def pictures(samples: list[dict]) -> list[tuple[str, Image.Image]]:
    """The named input pictures."""
    by_label = {}
    for s in samples:
        by_label.setdefault(s["label"], s)
    three, seven, one, eight = (digit(by_label[d]) for d in (3, 7, 1, 8))
    big_three = three.resize((112, 112), Image.Resampling.BICUBIC)
    big_seven = seven.resize((84, 84), Image.Resampling.BICUBIC)
    dark_on_light = Image.eval(on_canvas(big_seven, (120, 110), (30, 20)), lambda v: 240 - int(v * 0.9))
    coloured = Image.merge("RGB", (
        Image.eval(dark_on_light, lambda v: min(255, v + 10)),
        Image.eval(dark_on_light, lambda v: min(255, v + 5)),
        Image.eval(dark_on_light, lambda v: max(0, v - 60)),
    ))
    alpha = one.resize((56, 84), Image.Resampling.BILINEAR)
    transparent = Image.new("RGBA", (80, 96), (0, 0, 0, 0))
    transparent.paste(Image.new("RGBA", alpha.size, (20, 20, 20, 255)), (10, 6), alpha)
    faint = Image.eval(on_canvas(eight.resize((70, 70), Image.Resampling.BICUBIC), (100, 100), (5, 25)), lambda v: v // 3)
    return [
        ("mnist-3-enlarged-off-centre", on_canvas(big_three, (160, 140), (40, 5))),
        ("mnist-7-dark-on-light-paper", dark_on_light),
        ("mnist-7-blue-ink-on-yellow", coloured),
        ("mnist-1-on-transparent", transparent),
        ("mnist-8-faint", faint),
        ("mnist-3-as-is", three),
        ("drawn-4", strokes([[(40, 20), (28, 80), (90, 80)], [(80, 40), (78, 125)]])),
        ("drawn-2-in-corner", strokes([[(10, 20), (30, 8), (50, 20), (12, 62), (55, 62)]])),
        ("thin-vertical-bar", on_canvas(Image.new("L", (3, 90), 255), (120, 120), (70, 10))),
        ("wide-horizontal-bar", on_canvas(Image.new("L", (100, 6), 200), (120, 60), (5, 30))),
        ("tiny-dot-cluster", on_canvas(Image.fromarray(np.array([[0, 255, 0], [255, 128, 255], [0, 255, 64]], dtype=np.uint8)), (9, 7), (4, 2))),
    ]


def encode(image: Image.Image) -> dict:
    """The picture as the test reads it: mode, size and base64 of its raw bytes (L, RGB or RGBA)."""
    return {
        "mode": image.mode,
        "width": image.width,
        "height": image.height,
        "data": base64.b64encode(image.tobytes()).decode("ascii"),
    }


def main() -> None:
    """Run the Python preprocessing on every picture and write one JSON file per picture."""
    pre = load_preprocessing()
    samples = json.loads(SAMPLES.read_text())["samples"]
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.json"):
        old.unlink()
    for name, image in pictures(samples):
        expected = pre.preprocess_image(image)
        assert expected.shape == (28, 28), (name, expected.shape)
        record = {
            "name": name,
            "producedBy": "src/modelport/bundled_models/shared/mnist_preprocessing.py preprocess_image (page/scripts/make_golden.py)",
            "input": encode(image),
            "expected": [round(float(v), 6) for v in expected.reshape(-1)],
        }
        (OUT / f"{name}.json").write_text(json.dumps(record, separators=(",", ":")) + "\n")
        print(f"{name}: {image.mode} {image.width}×{image.height}, ink sum {float(expected.sum()):.1f}")


if __name__ == "__main__":
    main()
