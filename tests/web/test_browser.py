"""The scan page and the inspector console in a real browser (Debian's chromium, Playwright).

Phone-sized viewport; the server is the app on a live local port with the demo world.
Set UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ (the README shows them).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from web.demo import DEMO_PASSWORD, ORDERS, receipt_code

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 360, "height": 740}


@pytest.fixture
def live(app: Flask) -> Iterator[tuple[str, list[str]]]:
    output = app.test_cli_runner().invoke(args=["demo", "load", "--base-url", "http://x"]).output
    paths = [line.removeprefix("http://x") for line in output.splitlines()
             if line.startswith("http://x/01/")]
    app.config["WTF_CSRF_ENABLED"] = True
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", paths
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `make test` installs it (.ci/system-deps)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                  "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2,
                                  extra_http_headers={"X-Geo-City": "遂宁"})
    yield context.new_page()
    context.close()


def _shot(page: Page, name: str, tmp_path: Path) -> None:
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"scan-{name}.png"
    page.screenshot(path=str(target), full_page=False)
    assert target.stat().st_size > 10_000


def _count(page: Page) -> int:
    text = page.locator("#scan-count").inner_text()
    found = re.search(r"(\d+)", text)
    assert found, text
    return int(found.group(1))


def test_consumer_sees_verdict_and_journey_switches_language_complains_and_count_grows(
    live: tuple[str, list[str]], page: Page, tmp_path: Path
) -> None:
    base, paths = live
    page.goto(base + paths[0])
    expect(page.locator("#verdict h1")).to_have_text("正品")
    expect(page.locator("#journey li")).to_have_count(10)
    expect(page.locator("#journey li").first).to_contain_text("生产")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    _shot(page, "authentic", tmp_path)
    first = _count(page)
    page.click("#lang-en")
    expect(page.locator("#verdict h1")).to_have_text("Authentic")
    expect(page.locator("#journey")).to_contain_text("Signed for")
    page.click("#lang-zh")
    page.fill("#complaint-form input[name=receipt]", receipt_code(ORDERS[1]))
    page.fill("#complaint-form textarea[name=text]", "瓶盖松动，有少量渗漏")
    page.click("#complaint-form button[type=submit]")
    expect(page.locator("#message")).to_contain_text("投诉已记录")
    page.goto(base + paths[0])
    expect(page.locator("#journey li").last).to_contain_text("投诉")
    # Language switches and the page after the complaint are not scans; this visit is.
    assert _count(page) == first + 1


def test_cloned_and_counterfeit_labels_look_different(live: tuple[str, list[str]], page: Page,
                                                      tmp_path: Path) -> None:
    base, paths = live
    page.goto(base + paths[2])
    expect(page.locator("#verdict")).to_have_attribute("data-outcome", "suspicious")
    expect(page.locator("#verdict h1")).to_have_text("可疑")
    _shot(page, "suspicious", tmp_path)
    page.goto(base + paths[0].replace("/21/0000000001", "/21/0000000777"))
    expect(page.locator("#verdict")).to_have_attribute("data-outcome", "counterfeit")
    expect(page.locator("#verdict h1")).to_have_text("假冒")
    _shot(page, "counterfeit", tmp_path)


def test_inspector_logs_in_and_verifies_a_chain(live: tuple[str, list[str]], page: Page) -> None:
    base, _ = live
    page.goto(base + "/console/login")
    page.fill("input[name=username]", "demo-inspector")
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("#login")
    expect(page.locator("h1")).to_have_text("监管控制台")
    page.fill("#verify input[name=gtin]", "06901234567892")
    page.fill("#verify input[name=lot]", "SN2026A")
    page.fill("#verify input[name=serial]", "0000000002")
    page.click("#verify-button")
    expect(page.locator("#verify-result")).to_have_attribute("data-ok", "True")
    expect(page.locator("#verify-result h1")).to_have_text("链条完整")
    expect(page.locator("li.stage[data-ok=True]")).to_have_count(4)
