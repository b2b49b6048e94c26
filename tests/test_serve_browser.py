"""The web demo in headless Chromium against a real server: card examples, predictions with bars,
several masks, a second model's default examples, and errors in Macedonian."""

import json
import shutil
import urllib.request

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")

from macedonizer.serve.app import create_app  # noqa: E402
from macedonizer.serve.models import load_all, parse_specs  # noqa: E402
from tests.serve_server import running  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="no headless browser: install Chromium and its driver (apt-get install chromium chromium-driver)",
)]
DEFAULT_EXAMPLE = "Скопје е главен [MASK] на Македонија."


@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    bare = tmp_path_factory.mktemp("bare") / "bez-karta"
    shutil.copytree(tiny_model, bare, ignore=shutil.ignore_patterns("README.md", "checkpoints"))
    with running(create_app(load_all(parse_specs([f"mk={tiny_model}", f"bare={bare}"])))) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1000,1000", "--lang=mk"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _open(browser, base):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base + "/")
    WebDriverWait(browser, 60).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready"))


def _wait(browser, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, 60).until(lambda d: condition(d) or None)


def _api(base, text, top_k=5):
    request = urllib.request.Request(f"{base}/models/mk/fill-mask", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"inputs": text, "parameters": {"top_k": top_k}}).encode())
    return json.load(urllib.request.urlopen(request, timeout=60))


def _texts(browser, selector):
    return [e.text for e in browser.find_elements("css selector", selector)]


def test_card_examples_fill_with_bars(server, browser, tmp_path):
    _open(browser, server)
    assert browser.title.startswith("Пополни го зборот")
    assert browser.find_element("tag name", "html").get_attribute("lang") == "mk"
    card = json.load(urllib.request.urlopen(f"{server}/models"))[0]["card"]
    assert _texts(browser, "#examples .example") == [w["text"] for w in card["widget"]]

    browser.find_elements("css selector", "#examples .example")[0].click()
    rows = _wait(browser, lambda d: d.find_elements("css selector", "#results .prediction"))
    expected = _api(server, card["widget"][0]["text"])
    assert len(rows) == len(expected) == 5
    assert _texts(browser, "#results .token") == [p["token_str"] for p in expected]
    assert _texts(browser, "#results .sequence") == [p["sequence"] for p in expected]
    widths = [float(bar.get_attribute("style").split("width:")[1].split("%")[0])
              for bar in browser.find_elements("css selector", "#results .bar")]
    assert widths == pytest.approx([round(p["score"] * 100, 1) for p in expected], abs=0.051)
    assert widths == sorted(widths, reverse=True)

    screenshot = tmp_path / "demo.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\nscreenshot of the demo: {screenshot}")


def test_typed_sentences_several_masks_and_errors(server, browser):
    from selenium.webdriver.support.ui import Select

    _open(browser, server)
    text = browser.find_element("id", "text")
    text.clear()
    text.send_keys("Утре ќе одам на <mask> со [MASK].")
    Select(browser.find_element("id", "top-k")).select_by_visible_text("3")
    browser.find_element("id", "submit").click()
    _wait(browser, lambda d: len(d.find_elements("css selector", "#results .prediction")) == 6)
    assert _texts(browser, "#results .mask-title") == ["Маска 1", "Маска 2"]
    expected = _api(server, "Утре ќе одам на [MASK] со [MASK].", top_k=3)
    assert _texts(browser, "#results .token") == [p["token_str"] for mask in expected for p in mask]

    text.clear()
    text.send_keys("Оваа реченица нема маска.")
    browser.find_element("id", "submit").click()
    assert "нема маска" in _wait(browser, lambda d: d.find_element("id", "error").text)


def test_a_model_without_card_gets_macedonian_default_examples(server, browser):
    from selenium.webdriver.support.ui import Select

    _open(browser, server)
    Select(browser.find_element("id", "model")).select_by_value("bare")
    examples = _wait(browser, lambda d: _texts(d, "#examples .example")[0] == DEFAULT_EXAMPLE and d)
    assert all("[MASK]" in e for e in _texts(examples, "#examples .example"))
    browser.find_elements("css selector", "#examples .example")[1].click()
    assert len(_wait(browser, lambda d: d.find_elements("css selector", "#results .prediction"))) == 5
    assert "параметри" in browser.find_element("id", "model-info").text
