"""The web page in a real browser (Debian's Chromium via Playwright) against the real local stack:
`modelport hosting` with the bundled models and chat model trained in fast mode (as `modelport up --fast`
trains them) and deployed with `modelport deploy`, and `modelport gateway` serving page/dist with
chat through the sagemaker provider. Screenshots of every tab are saved under page/test-results/."""

from __future__ import annotations

import json
import shutil
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler

import httpx
import pytest

import tests.helpers.page as ph
from tests.helpers.standin_server import StandinHTTPServer

DIGIT_ROUTES = ("mnist-sklearn", "mnist-pytorch")
ENDPOINTS = {"mnist-sklearn": "page-mnist-sklearn", "mnist-pytorch": "page-mnist-pytorch", "sentiment": "page-sentiment"}
ROUTE_VARS = {
    "MNIST_SKLEARN_ENDPOINT": ENDPOINTS["mnist-sklearn"],
    "MNIST_PYTORCH_ENDPOINT": ENDPOINTS["mnist-pytorch"],
    "SENTIMENT_ENDPOINT": ENDPOINTS["sentiment"],
}
CHAT_ENDPOINT = "page-chat"
CHAT_ENV = {"CHAT_PROVIDER": "sagemaker", "CHAT_ENDPOINT": CHAT_ENDPOINT, "CHAT_MAX_TOKENS": "2000"}
POSITIVE = "I love this, what a wonderful and happy day! Thank you so much, it is great"
NEGATIVE = "I hate this. Worst day ever, I am so sad and angry, everything is awful"
EXAMPLE = "I absolutely love this, it made my whole day!"  # one of the example buttons


@pytest.fixture(scope="module")
def page_stack(tmp_path_factory, bundled_home):
    """Hosting with the three bundled models and the chat model deployed, and a gateway serving the page."""
    ph.require_browser_and_page()
    ph.clean_results()
    home = tmp_path_factory.mktemp("page-stack")
    archives = {name: bundled_home / "bundled" / name / "model.tar.gz" for name in ENDPOINTS}
    chat_archive = bundled_home / "bundled" / "chat" / "model.tar.gz"
    hosting = ph.Hosting(home)
    try:
        for name, archive in archives.items():
            hosting.deploy(archive, ENDPOINTS[name])
        # replies of at least 600 characters: Stop is still there to click on a slow, loaded machine
        hosting.deploy(chat_archive, CHAT_ENDPOINT, env={"CHAT_MIN_TOKENS": "600"})
        gateway = ph.Gateway(home, hosting.url, ROUTE_VARS, **CHAT_ENV)
        try:
            yield {"home": home, "hosting": hosting, "gateway": gateway, "url": gateway.url}
        finally:
            gateway.stop()
    finally:
        hosting.stop()


@pytest.fixture(scope="module")
def chromium():
    with ph.browser() as b:
        yield b


@pytest.fixture
def page(chromium, page_stack):
    page = ph.open_page(chromium, page_stack["url"])
    yield page
    assert page.problems == [], page.problems
    page.context.close()


def wait_results(page) -> None:
    """Wait until the debounced predictions have been asked for and every answer is in."""
    page.wait_for_timeout(400)  # longer than the page's 250 ms debounce
    page.wait_for_selector(".results[aria-busy=false]")
    for route in DIGIT_ROUTES:
        page.get_by_test_id(f"label-{route}").wait_for()


# ---- digits -------------------------------------------------------------------------------------
def digits_both_models_know(url: str, count: int) -> list[dict]:
    """The clearest held-out test digits for the deployed models: for each label, the sample both models
    read right from its exact pixels (through the gateway) with the widest margin (top probability minus
    the runner-up's, the smaller of the two models'); then the `count` labels with the widest margins.
    The --fast models miss many digits and the fast CNN is barely sure of any; this test is about the
    page (drawing + preprocessing), not the models' accuracy, so it draws digits the models can read."""
    best: dict[int, tuple[float, dict]] = {}
    for sample in ph.test_digits(per_digit=5):
        pixels = [v / 255 for v in sample["pixels"]]
        margins = []
        for route in DIGIT_ROUTES:
            answer = httpx.post(f"{url}/predict/{route}", json={"pixels": pixels}, timeout=30).json()["predictions"][0]
            top, second = sorted(answer["probabilities"], reverse=True)[:2]
            margins.append(top - second if answer["label"] == sample["label"] else -1.0)
        score = min(margins)
        if score > 0 and score > best.get(sample["label"], (0.0, None))[0]:
            best[sample["label"]] = (score, sample)
    ranked = sorted(best.values(), key=lambda item: item[0], reverse=True)
    assert len(ranked) >= 4, f"the deployed models read too few test digits right: {sorted(best)}"
    return [sample for _, sample in ranked[:count]]


@pytest.fixture(scope="module")
def known_digits(page_stack) -> list[dict]:
    return digits_both_models_know(page_stack["url"], 5)


def test_real_test_digits_drawn_stroke_by_stroke_get_the_right_label_from_both_models(page, known_digits):
    for sample in known_digits:
        page.get_by_role("button", name="Clear").click()
        strokes = ph.draw_on_canvas(page, sample["pixels"])
        assert strokes > 5
        wait_results(page)
        for route in DIGIT_ROUTES:
            got = page.get_by_test_id(f"label-{route}").inner_text()
            assert got == str(sample["label"]), f"{route} read test digit #{sample['index']} (a {sample['label']}) drawn on the canvas as {got}"
    ph.screenshot(page, "digits-drawn")
    # what the models saw is on the page, and both cards show a chart with ten classes and latencies
    assert page.get_by_test_id("model-input").get_attribute("aria-label").startswith("The 28 by 28 input")
    for route in DIGIT_ROUTES:
        card = page.get_by_test_id(f"result-{route}")
        assert card.locator("svg.chart-svg .bar").count() == 10
        assert "model" in card.locator(".latency").inner_text()


def test_drawing_with_a_finger_on_a_phone_with_a_hidpi_screen(chromium, page_stack, known_digits):
    context = chromium.new_context(viewport={"width": 375, "height": 812}, has_touch=True, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    page.goto(page_stack["url"])
    sample = known_digits[0]
    assert ph.draw_by_touch(page, sample["pixels"]) > 5
    wait_results(page)
    for route in DIGIT_ROUTES:
        assert page.get_by_test_id(f"label-{route}").inner_text() == str(sample["label"])
    assert page.evaluate("window.scrollY") == 0  # the finger drew; it did not scroll the page
    ph.screenshot(page, "digits-touch-phone")
    context.close()


def test_undo_removes_the_last_stroke_and_clear_empties_everything(page):
    sample = ph.test_digits(per_digit=1)[1]  # a 1: few strokes
    ph.draw_on_canvas(page, sample["pixels"])
    wait_results(page)
    undo = page.get_by_role("button", name="Undo")
    assert undo.is_enabled()
    undo.click()
    page.get_by_role("button", name="Clear").click()
    assert not undo.is_enabled()
    assert page.get_by_test_id("label-mnist-sklearn").count() == 0
    assert "Cleared" in page.locator(".draw-card .notice").inner_text()


def test_uploaded_png_dark_on_light_and_off_centre_is_read_right(page, tmp_path, known_digits):
    for sample in known_digits[:2]:
        png = ph.digit_png(sample["pixels"], tmp_path / f"digit-{sample['label']}.png")
        page.get_by_test_id("upload").set_input_files(str(png))
        page.get_by_text(f"Read {png.name} (dark on light, so inverted).").wait_for()
        wait_results(page)
        for route in DIGIT_ROUTES:
            assert page.get_by_test_id(f"label-{route}").inner_text() == str(sample["label"])
    ph.screenshot(page, "digits-upload")


def test_a_file_that_is_not_an_image_gets_a_message(page, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    page.get_by_test_id("upload").set_input_files(str(bad))
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Could not read notes.png as an image" in alert.inner_text()


def test_sample_digit_is_sent_as_is(page, known_digits):
    sample = known_digits[-1]
    samples = json.loads(ph.SAMPLES.read_text())["samples"]
    index = next(i for i, s in enumerate(samples) if s["index"] == sample["index"])
    page.get_by_label("Or pick a sample digit").select_option(str(index))
    wait_results(page)
    for route in DIGIT_ROUTES:
        assert page.get_by_test_id(f"label-{route}").inner_text() == str(sample["label"])


# ---- sentiment ----------------------------------------------------------------------------------
def test_sentiment_of_a_clearly_positive_and_a_clearly_negative_sentence(page):
    page.get_by_role("tab", name="Sentiment").click()
    box = page.get_by_label("Text to read")
    label = page.get_by_test_id("label-sentiment")
    for text, expected in ((POSITIVE, "positive"), (NEGATIVE, "negative")):
        box.fill(text)
        assert f"{len(text)} / 5,000 characters" in page.locator("#sentiment-count").inner_text()
        page.get_by_role("button", name="Analyse").click()
        page.wait_for_function(
            "([want]) => document.querySelector('[data-testid=label-sentiment]')?.textContent === want", arg=[expected],
        )
        assert label.inner_text().lower() == expected
        rows = page.locator("[data-testid=result-sentiment] .row")
        assert rows.count() == 3
        ph.screenshot(page, f"sentiment-{expected}")


def test_sentiment_refuses_text_over_the_limit_before_sending(page):
    page.get_by_role("tab", name="Sentiment").click()
    page.get_by_label("Text to read").fill("a" * 5001)
    assert page.get_by_role("button", name="Analyse").is_disabled()
    assert "1 too many" in page.locator("#sentiment-count").inner_text()


# ---- models -------------------------------------------------------------------------------------
def test_models_tab_lists_the_deployed_endpoints_in_service(page):
    page.get_by_role("tab", name="Models").click()
    for route, endpoint in ENDPOINTS.items():
        row = page.get_by_test_id(f"model-row-{route}")
        row.wait_for()
        assert endpoint in row.inner_text()
        assert "InService" in row.inner_text()
        assert "1 instance" in row.inner_text()
    chat = page.get_by_test_id("model-row-chat")  # the chat endpoint, with the provider that answers it
    chat.wait_for()
    assert CHAT_ENDPOINT in chat.inner_text() and "InService" in chat.inner_text() and "1 instance" in chat.inner_text()
    assert "chat via sagemaker" in chat.inner_text()
    ph.screenshot(page, "models")


# ---- an unavailable model, and no chat -----------------------------------------------------------
@pytest.fixture(scope="module")
def partial_gateway(page_stack):
    """A second gateway on the same hosting: mnist-pytorch routed to an endpoint that is not deployed,
    sentiment not configured at all, chat switched off (CHAT_PROVIDER=none)."""
    routes = {"MNIST_SKLEARN_ENDPOINT": ENDPOINTS["mnist-sklearn"], "MNIST_PYTORCH_ENDPOINT": "not-deployed-here"}
    gateway = ph.Gateway(page_stack["home"], page_stack["hosting"].url, routes, name="gateway-partial", CHAT_PROVIDER="none")
    yield gateway
    gateway.stop()


def test_unavailable_models_show_their_message(chromium, partial_gateway):
    """The page says in each card what is wrong, not in the console."""
    page = ph.open_page(chromium, partial_gateway.url)
    ph.draw_on_canvas(page, ph.test_digits(per_digit=1)[2]["pixels"])
    page.wait_for_timeout(400)
    page.get_by_test_id("label-mnist-sklearn").wait_for()
    broken = page.get_by_test_id("result-mnist-pytorch").get_by_role("alert")
    broken.wait_for()
    text = broken.inner_text()
    assert "mnist-pytorch is unavailable" in text and "not-deployed-here does not exist" in text and "HTTP 503" in text
    assert ph.axe_violations(page) == []
    ph.screenshot(page, "digits-unavailable-model")
    page.get_by_role("tab", name="Sentiment").click()
    page.get_by_label("Text to read").fill(POSITIVE)
    page.get_by_role("button", name="Analyse").click()
    alert = page.get_by_test_id("result-sentiment").get_by_role("alert")
    alert.wait_for()
    assert "is not configured: set SENTIMENT_ENDPOINT" in alert.inner_text()
    assert page.problems == []
    page.context.close()


def test_chat_that_is_not_configured_says_so(chromium, partial_gateway):
    page = ph.open_page(chromium, partial_gateway.url + "/#chat")
    assert "Chat is not configured" in page.get_by_test_id("chat-not-configured").inner_text()
    box = page.get_by_label("Message")
    box.fill("Hello there")
    box.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "chat is not configured" in alert.inner_text() and "HTTP 503" in alert.inner_text()
    assert page.get_by_role("log").get_attribute("aria-busy") == "false"
    assert page.get_by_test_id("msg-user").inner_text().endswith("Hello there")
    assert page.get_by_test_id("msg-assistant").count() == 0
    assert page.get_by_role("button", name="Retry").is_enabled()
    assert ph.axe_violations(page) == []
    ph.screenshot(page, "chat-not-configured")
    assert page.problems == []
    page.context.close()


# ---- chat -----------------------------------------------------------------------------------------
def reply_length(page) -> int:
    return page.evaluate("document.querySelector('[data-testid=msg-assistant]:last-of-type .msg-text')?.textContent.length ?? 0")


def test_chat_streams_a_reply_with_its_stop_reason_tokens_and_latency(page):
    page.get_by_role("tab", name="Chat").click()
    assert page.get_by_test_id("chat-not-configured").count() == 0
    box = page.get_by_label("Message")
    box.fill("Tell me about your day")
    box.press("Enter")
    page.get_by_role("button", name="Stop").wait_for()
    log = page.get_by_role("log")
    assert log.get_attribute("aria-busy") == "true"
    page.wait_for_function("document.querySelector('[data-testid=msg-assistant] .msg-text')?.textContent.length > 20")
    first = reply_length(page)
    page.wait_for_function(f"document.querySelector('[data-testid=msg-assistant] .msg-text').textContent.length > {first}")
    reply = page.locator("[data-testid=msg-assistant][data-status=done]")
    reply.wait_for(timeout=60_000)
    meta = reply.get_by_test_id("msg-meta").inner_text()
    assert "out tokens" in meta and "first token" in meta and "via sagemaker" in meta and "pipeline demo" in meta
    assert log.get_attribute("aria-busy") == "false"
    assert page.get_by_role("button", name="Send").is_visible()
    assert ph.axe_violations(page) == []
    ph.screenshot(page, "chat-streamed")
    # the transcript is kept for the browser tab
    page.reload()
    page.get_by_role("tab", name="Chat").wait_for()
    assert page.get_by_test_id("msg-user").inner_text().endswith("Tell me about your day")
    assert page.get_by_test_id("msg-assistant").count() == 1


def test_chat_stop_keeps_the_partial_reply_and_retry_and_clear_work(page):
    page.get_by_role("tab", name="Chat").click()
    box = page.get_by_label("Message")
    box.fill("Write a long story")
    box.press("Enter")
    page.wait_for_function("document.querySelector('[data-testid=msg-assistant] .msg-text')?.textContent.length > 5")
    page.get_by_role("button", name="Stop").click()
    stopped = page.locator("[data-testid=msg-assistant][data-status=stopped]")
    stopped.wait_for()
    assert "stopped by you" in stopped.get_by_test_id("msg-meta").inner_text()
    kept = reply_length(page)
    assert kept > 0
    page.wait_for_timeout(500)
    assert reply_length(page) == kept  # nothing arrives after Stop
    assert page.get_by_role("log").get_attribute("aria-busy") == "false"
    ph.screenshot(page, "chat-stopped")
    # Retry asks again for the same question: the stopped reply is replaced by a new one
    page.get_by_role("button", name="Retry").click()
    page.get_by_role("button", name="Stop").wait_for()
    page.get_by_role("button", name="Stop").click()
    page.locator("[data-testid=msg-assistant][data-status=stopped]").wait_for()
    assert page.get_by_test_id("msg-user").count() == 1 and page.get_by_test_id("msg-assistant").count() == 1
    # Shift+Enter is a new line, not a send; Clear empties the conversation
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line"
    assert page.get_by_test_id("msg-user").count() == 1
    page.get_by_role("button", name="Clear").click()
    assert page.get_by_test_id("msg-user").count() == 0 and page.get_by_test_id("msg-assistant").count() == 0


# ---- the page served elsewhere (S3-style): API base from config.json ----------------------------
@pytest.fixture
def static_site(tmp_path):
    """Serve a copy of page/dist from a plain static HTTP server (like an S3 website); yields a function
    that writes its config.json and returns the site's URL."""
    site = tmp_path / "site"
    shutil.copytree(ph.DIST, site)
    server = StandinHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def with_api_base(api_base: str) -> str:
        (site / "config.json").write_text(json.dumps({"apiBase": api_base}))
        return f"http://127.0.0.1:{server.server_address[1]}/index.html"

    yield with_api_base
    server.shutdown()
    server.server_close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_page_on_another_origin_reads_the_api_base_from_config_json(chromium, page_stack, static_site, known_digits):
    page = ph.open_page(chromium, static_site(page_stack["url"] + "/"))
    samples = json.loads(ph.SAMPLES.read_text())["samples"]
    index = next(i for i, s in enumerate(samples) if s["index"] == known_digits[0]["index"])
    page.get_by_label("Or pick a sample digit").select_option(str(index))
    wait_results(page)
    assert page.get_by_test_id("label-mnist-sklearn").inner_text() == str(known_digits[0]["label"])
    assert page_stack["url"] in page.locator(".site-footer").inner_text()
    assert page.problems == []
    page.context.close()


def test_an_unreachable_api_is_said_in_the_page(chromium, static_site):
    page = ph.open_page(chromium, static_site(f"http://127.0.0.1:{ph.free_port()}"))
    page.get_by_text("API unreachable").wait_for()
    page.get_by_label("Or pick a sample digit").select_option("0")
    alert = page.get_by_test_id("result-mnist-sklearn").get_by_role("alert")
    alert.wait_for()
    assert "Could not reach the API at http://127.0.0.1:" in alert.inner_text()
    page.get_by_role("tab", name="Models").click()
    assert "Could not list the models" in page.get_by_role("alert").first.inner_text()
    ph.screenshot(page, "api-unreachable")
    assert page.problems == []
    page.context.close()


# ---- accessibility, phone width, keyboard, screenshots -------------------------------------------
@pytest.mark.parametrize(("width", "height", "suffix"), [(1280, 900, "desktop"), (375, 812, "phone")])
def test_every_tab_passes_axe_and_fits_the_width(chromium, page_stack, width, height, suffix):
    page = ph.open_page(chromium, page_stack["url"], width=width, height=height)
    page.get_by_label("Or pick a sample digit").select_option("5")
    wait_results(page)
    page.get_by_role("tab", name="Sentiment").click()
    page.get_by_role("button", name=EXAMPLE).click()
    page.get_by_test_id("label-sentiment").wait_for()
    for tab in ("Digits", "Sentiment", "Chat", "Models"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(100)
        violations = ph.axe_violations(page)
        assert violations == [], f"{tab} at {width}px: {violations}"
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{tab} is {overflow}px wider than a {width}px screen"
        ph.screenshot(page, f"{tab.lower()}-{suffix}")
    assert page.problems == []
    page.context.close()


def test_tabs_work_from_the_keyboard_with_visible_focus(page):
    digits = page.get_by_role("tab", name="Digits")
    digits.focus()
    page.keyboard.press("ArrowRight")
    sentiment = page.get_by_role("tab", name="Sentiment")
    assert sentiment.get_attribute("aria-selected") == "true"
    assert page.evaluate("document.activeElement.textContent") == "Sentiment"
    assert page.evaluate("getComputedStyle(document.activeElement).boxShadow") != "none"
    page.keyboard.press("End")
    assert page.get_by_role("tab", name="Models").get_attribute("aria-selected") == "true"
    page.keyboard.press("Home")
    assert digits.get_attribute("aria-selected") == "true"
    assert page.locator("#panel-sentiment").is_hidden()
