"""Take the README's page screenshots (docs/images/page-*.png) from a running modelport stack.

The screenshots should show what a user sees with the models ``modelport up`` trains at full size, so this
script does not train anything: start a full-size stack first, in a scratch home if you like (about 8
minutes of training the first time on 2 cores; later starts reuse the archives), then point the script at
its gateway:

    MODELPORT_HOME=/tmp/full .venv/bin/modelport up --port 8100 --hosting-port 8101 &
    .venv/bin/python docs/screenshots.py --url http://127.0.0.1:8100 --home /tmp/full

It drives Debian's Chromium (/usr/bin/chromium) with Playwright, as the browser tests do: it uploads a held-out
MNIST 7 as a dark-on-light, off-centre photo (page/src/data/samples.json), reads a clearly positive sentence,
and opens the Models tab. It refuses a stack whose bundled models are the --fast ones (pass its home with
``--home`` when it is not the default), and one whose digit models misread that 7.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
SAMPLES = ROOT / "page" / "src" / "data" / "samples.json"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
POSITIVE = "I love this, what a wonderful and happy day! Thank you so much, it is great"
DIGIT_ROUTES = ("mnist-sklearn", "mnist-pytorch")


def photo_of_digit(pixels: list[int], path: Path, zoom: int = 6) -> Path:
    """A digit as a person photographs it: dark ink on light paper, enlarged, off-centre."""
    digit = Image.fromarray(np.array(pixels, dtype=np.uint8).reshape(28, 28), mode="L")
    big = digit.resize((28 * zoom, 28 * zoom), Image.BICUBIC)
    paper = Image.new("L", (big.width + 130, big.height + 70), 0)
    paper.paste(big, (40, 10))
    Image.eval(paper, lambda v: 245 - int(v * 0.85)).convert("RGB").save(path)
    return path


def check_full_size(home: Path) -> None:
    """Refuse a stack whose bundled models were trained with --fast (their metrics.json says so)."""
    records = {name: home / "bundled" / name / "metrics.json" for name in (*DIGIT_ROUTES, "sentiment")}
    absent = [str(path) for path in records.values() if not path.is_file()]
    if absent:
        raise SystemExit(f"no metrics of the bundled models in {home} ({', '.join(absent)}): pass the stack's "
                         "MODELPORT_HOME with --home")
    fast = [name for name, path in records.items() if json.loads(path.read_text()).get("fast")]
    if fast:
        raise SystemExit(f"{', '.join(fast)} in {home} were trained with --fast; the screenshots show full-size "
                         "models: run `modelport up` (without --fast) with that home first")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway of a running full-size stack")
    parser.add_argument("--home", type=Path, default=None, help="the stack's MODELPORT_HOME (default: as modelport finds it)")
    parser.add_argument("--out", type=Path, default=IMAGES, help="where to write page-*.png")
    args = parser.parse_args()
    from modelport.settings import get_settings

    check_full_size(args.home or get_settings().home)

    from playwright.sync_api import sync_playwright

    models = {m["name"]: m for m in httpx.get(args.url + "/models", timeout=30).json()["models"]}
    missing = [n for n in (*DIGIT_ROUTES, "sentiment") if models.get(n, {}).get("status") != "InService"]
    if missing:
        raise SystemExit(f"{', '.join(missing)} not InService behind {args.url}: start a full-size stack (modelport up)")
    seven = next(s for s in json.loads(SAMPLES.read_text())["samples"] if s["label"] == 7)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.goto(args.url)
        page.get_by_role("tab", name="Digits").wait_for()

        png = photo_of_digit(seven["pixels"], Path(scratch) / "digit-7.png")
        page.get_by_test_id("upload").set_input_files(str(png))
        page.get_by_text("Read digit-7.png (dark on light, so inverted).").wait_for()
        page.wait_for_timeout(400)  # the page's debounce
        page.wait_for_selector(".results[aria-busy=false]")
        confidences = {}
        for route in DIGIT_ROUTES:
            card = page.get_by_test_id(f"result-{route}")
            page.get_by_test_id(f"label-{route}").wait_for()
            if page.get_by_test_id(f"label-{route}").inner_text() != "7":
                raise SystemExit(f"{route} did not read the 7: are these the full-size models?")
            confidences[route] = card.inner_text()
        page.screenshot(path=str(args.out / "page-digits.png"), full_page=True)

        page.get_by_role("tab", name="Sentiment").click()
        page.get_by_label("Text to read").fill(POSITIVE)
        page.get_by_role("button", name="Analyse").click()
        page.wait_for_function("document.querySelector('[data-testid=label-sentiment]')?.textContent === 'positive'")
        page.screenshot(path=str(args.out / "page-sentiment.png"), full_page=True)

        page.get_by_role("tab", name="Models").click()
        page.get_by_test_id("model-row-chat").wait_for()
        page.screenshot(path=str(args.out / "page-models.png"), full_page=True)
        browser.close()
    for route, text in confidences.items():
        print(route, " ".join(text.split())[:80])
    print(f"wrote {', '.join(f'page-{n}.png' for n in ('digits', 'sentiment', 'models'))} to {args.out}")


if __name__ == "__main__":
    main()
