"""Helpers for the web page's browser tests: the built page, Debian's Chromium driven by Playwright,
the real local stack as processes (hosting, deployed archives, gateway), drawing on the canvas,
axe-core scans and screenshots under page/test-results/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from tests.helpers.processes import free_port, stop, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "page"
DIST = PAGE / "dist"
RESULTS = PAGE / "test-results"
AXE_JS = PAGE / "node_modules" / "axe-core" / "axe.min.js"
SAMPLES = PAGE / "src" / "data" / "samples.json"
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MODELPORT = [sys.executable, "-m", "modelport"]
CANVAS_CELLS = 28  # the drawing canvas is 280 CSS px: 10 px per MNIST pixel


def require_browser_and_page() -> None:
    """Fail with what to do when Chromium, the built page or axe-core is missing."""
    problems = []
    if not CHROMIUM.exists():
        problems.append("Debian's chromium is not installed: run `apt-get install -y chromium` (as root)")
    if not (DIST / "index.html").is_file():
        problems.append("the page is not built: run `npm --prefix page ci && npm --prefix page run build`")
    if not AXE_JS.is_file():
        problems.append("page/node_modules is missing (axe-core): run `npm --prefix page ci`")
    if problems:
        raise RuntimeError("the browser tests cannot run: " + "; ".join(problems))


class Process:
    """A modelport command run as a real process, with its output in a log file; stopped by its pid."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self._file, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)

    def read_log(self) -> str:
        """The last 3000 characters of its output so far."""
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM it (SIGKILL 20 s later) and close its log."""
        stop(self.proc)
        self._file.close()


def base_env(home: Path) -> dict[str, str]:
    """Environment for the stack's processes: state in `home`, dummy AWS credentials, no real AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELPORT_", "AWS_", "CHAT_")) and not k.endswith("_ENDPOINT")}
    env.update(
        MODELPORT_HOME=str(home), AWS_ACCESS_KEY_ID="modelport", AWS_SECRET_ACCESS_KEY="modelport",
        AWS_DEFAULT_REGION="us-east-1", PYTHONUNBUFFERED="1",
    )
    return env


class Hosting:
    """`modelport hosting` on a free port, plus `modelport deploy` of archives onto it."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = base_env(home)
        self.process = Process([*MODELPORT, "hosting", "--port", str(self.port)], self.env, home / "hosting.log")
        wait_until_up(self.url + "/ping", self.process.proc, self.process.read_log)

    def deploy(self, archive: Path, endpoint: str, timeout: float = 300, env: dict[str, str] | None = None) -> None:
        """Deploy `archive` as `endpoint` (`env`: the model's Environment) and wait until it is InService."""
        result = subprocess.run(
            [*MODELPORT, "deploy", str(archive), "--endpoint", endpoint, "--url", self.url, "--timeout", str(timeout),
             *[f"--env={key}={value}" for key, value in (env or {}).items()]],
            env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout + 30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"deploying {archive} as {endpoint} failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")

    def stop(self) -> None:
        self.process.stop()


class Gateway:
    """`modelport gateway` on a free port serving page/dist, routed to hosting by environment variables."""

    def __init__(self, home: Path, hosting_url: str, routes: dict[str, str], name: str = "gateway", **extra_env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = base_env(home)
        env.update(
            AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME=hosting_url, AWS_ENDPOINT_URL_SAGEMAKER=hosting_url,
            MODELPORT_MODE="local", MODELPORT_PAGE_DIR=str(DIST), MODELPORT_ACCESS_LOG="false", **routes, **extra_env,
        )
        self.process = Process([*MODELPORT, "gateway", "--port", str(self.port)], env, home / f"{name}.log")
        wait_until_up(self.url + "/health", self.process.proc, self.process.read_log)

    def stop(self) -> None:
        self.process.stop()


# ---- the browser --------------------------------------------------------------------------------
@contextmanager
def browser():
    """Debian's Chromium under Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_page(b, url: str, *, width: int = 1280, height: int = 900):
    """A fresh page (own context) at `url`, recording console errors and page errors in `page.problems`."""
    context = b.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    # the page's own console errors; the browser's network log lines ("Failed to load resource: ... 503")
    # are how Chromium reports any non-2xx fetch and are expected when a test asks for an error
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
            and page.problems.append(f"console error: {m.text}"))
    page.goto(url)
    page.get_by_role("tab", name="Digits").wait_for()
    return page


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as page/test-results/NAME.png (a test artifact)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """Run axe-core (from page/node_modules) on the page; the violations of the given impacts."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async () => { const r = await axe.run(document, {resultTypes: ['violations']});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})); }"
    )
    return [v for v in result if v["impact"] in impacts]


# ---- digits -------------------------------------------------------------------------------------
def test_digits(per_digit: int = 1) -> list[dict]:
    """Real MNIST digits from the held-out split, as shipped with the page (page/src/data/samples.json)."""
    samples = json.loads(SAMPLES.read_text())["samples"]
    chosen, seen = [], {}
    for s in samples:
        if seen.get(s["label"], 0) < per_digit:
            chosen.append(s)
            seen[s["label"]] = seen.get(s["label"], 0) + 1
    return chosen


test_digits.__test__ = False  # a helper, not a pytest test


def digit_strokes(pixels: list[int], threshold: int = 128) -> list[tuple[tuple[float, float], tuple[float, float]]]:
    """The digit as pen strokes in canvas units (0..280): one horizontal stroke per run of ink in a row.

    The pen is about two MNIST pixels wide, so each run is drawn from 0.6 of a pixel inside its ends
    (a run of one pixel becomes a dot) to keep the strokes about as thick as the digit's own.
    """
    strokes = []
    cell = 280 / CANVAS_CELLS
    for y in range(CANVAS_CELLS):
        x = 0
        while x < CANVAS_CELLS:
            if pixels[y * CANVAS_CELLS + x] >= threshold:
                start = x
                while x + 1 < CANVAS_CELLS and pixels[y * CANVAS_CELLS + x + 1] >= threshold:
                    x += 1
                left, right = start + 0.5, x + 0.5
                inset = min(0.6, (right - left) / 2)
                cy = (y + 0.5) * cell
                strokes.append((((left + inset) * cell, cy), ((right - inset) * cell, cy)))
            x += 1
    return strokes


def draw_on_canvas(page, pixels: list[int]) -> int:
    """Draw a 28×28 digit on the page's canvas with the mouse, stroke by stroke; returns the stroke count."""
    canvas = page.get_by_test_id("draw-canvas")
    box = canvas.bounding_box()
    scale = box["width"] / 280
    strokes = digit_strokes(pixels)
    for (x0, y0), (x1, y1) in strokes:
        page.mouse.move(box["x"] + x0 * scale, box["y"] + y0 * scale)
        page.mouse.down()
        steps = max(1, int(abs(x1 - x0) / 6))
        page.mouse.move(box["x"] + x1 * scale, box["y"] + y1 * scale, steps=steps)
        page.mouse.up()
    return len(strokes)


def draw_by_touch(page, pixels: list[int]) -> int:
    """Draw a 28×28 digit with a finger (real touch events through the DevTools protocol); needs a
    context made with has_touch=True. Returns the stroke count."""
    cdp = page.context.new_cdp_session(page)
    box = page.get_by_test_id("draw-canvas").bounding_box()
    scale = box["width"] / 280
    strokes = digit_strokes(pixels)

    def touch(x: float, y: float) -> list[dict]:
        return [{"x": box["x"] + x * scale, "y": box["y"] + y * scale, "id": 1}]

    for (x0, y0), (x1, y1) in strokes:
        points = [(x0 + (x1 - x0) * t / 4, y0 + (y1 - y0) * t / 4) for t in range(5)]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": touch(*points[0])})
        for point in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": touch(*point)})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    cdp.detach()
    return len(strokes)


def digit_png(pixels: list[int], path: Path, *, zoom: int = 6, margin: tuple[int, int, int, int] = (40, 10, 90, 60)) -> Path:
    """A photo-like PNG of a digit: dark ink on light paper, enlarged and off-centre (what a person uploads)."""
    import numpy as np
    from PIL import Image

    digit = Image.fromarray(np.array(pixels, dtype=np.uint8).reshape(28, 28), mode="L")
    big = digit.resize((28 * zoom, 28 * zoom), Image.BICUBIC)
    left, top, right, bottom = margin
    paper = Image.new("L", (big.width + left + right, big.height + top + bottom), 0)
    paper.paste(big, (left, top))
    inked = Image.eval(paper, lambda v: 245 - int(v * 0.85))  # light grey paper, dark grey ink
    inked.convert("RGB").save(path)
    return path


def clean_results() -> None:
    """Empty page/test-results/ before a run, so its screenshots are this run's."""
    if RESULTS.exists():
        shutil.rmtree(RESULTS)
    RESULTS.mkdir(parents=True)
