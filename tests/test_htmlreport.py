"""The HTML report in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`,
which .ci/run installs) driven by Selenium, on a report made from real runs against the emulator.

Checked: the summary counts, a failing case's transcript, a status filter, zero network requests,
zero console errors (a style the Content-Security-Policy refused would be one), the escaping of
platform text, and screenshots at 375 px and 1,440 px saved with the test's files.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from suitesync.emulator import Emulator

from conftest import AGENT, run_cli

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"
)

HOSTILE = "Judge says <script>window.pwned=1</script> and <img src=x onerror=window.pwned=2> loudly."
SUITE = f"""\
agent: main
cases:
  - id: refund-late-order
    label: Refund a late order
    userPrompt: You want a refund for an order that arrived two weeks late.
    successCriteria: The agent apologises and refunds the order.
    attempt: 5
    tags: [billing, smoke]
  - id: hostile-remarks
    userPrompt: You paste HTML at the agent. <b>bold</b> & more.
    successCriteria: "{HOSTILE} [emulator:fail]"
    attempt: 2
  - id: opening-hours
    userPrompt: You ask when the shop opens on Sunday.
    successCriteria: The agent gives the Sunday opening hours.
    attempt: 3
  - id: flaky-checkout
    userPrompt: You try to check out with two coupons. [emulator:pass-probability=0.5]
    successCriteria: The agent applies the better coupon.
    attempt: 4
    minPassRate: 0.5
  - id: klingon
    userPrompt: You speak only Klingon.
    successCriteria: The agent answers in Klingon. [emulator:fail]
    quarantine: true
"""


@pytest.fixture
def report_file(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three runs (the agent broken for refunds in the last), rendered with their history."""
    root = tmp_path / "project"
    (root / "suites").mkdir(parents=True)
    (root / "suitesync.yaml").write_text(f"agents: {{main: {AGENT}}}\n")
    (root / "suites" / "support.yaml").write_text(SUITE)
    monkeypatch.setenv("SIGMAMIND_BASE_URL", emulator.url)
    emulator.faults.reconfigure({"seed": 7})
    assert run_cli("apply", "--auto-approve", cwd=root).code == 0
    for instructions in ("Be kind.", "Be kind.", "Be brief. [emulator:pass-rate-when=refund:0.4]"):
        body = {"agentId": AGENT, "name": "Support", "instructions": instructions}
        assert httpx.post(f"{emulator.url}/_emulator/agents", json=body).status_code == 201
        run_cli("run", cwd=root)
    history = sorted(str(p) for p in (root / ".suitesync" / "results").glob("*.json"))
    out = tmp_path / "report.html"
    assert run_cli("report", *history, "--format", "html", "-o", str(out), cwd=root).code == 0
    return out


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(DRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def _requests(driver: object, page: str) -> list[str]:
    """Every URL the browser asked for, other than the page itself."""
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return [url for url in urls if url != page]


def _screenshot(driver: object, width: int, path: Path) -> None:
    """The whole page at this width (the window as tall as the page)."""
    driver.set_window_size(width, 900)  # type: ignore[attr-defined]
    height = driver.execute_script("return document.documentElement.scrollHeight")  # type: ignore[attr-defined]
    driver.set_window_size(width, min(int(height) + 120, 8000))  # type: ignore[attr-defined]
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    print(f"screenshot at {width} px: {path}")


def test_the_html_report_in_chromium(report_file: Path, browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    page = report_file.as_uri()
    driver.set_window_size(1440, 900)  # type: ignore[attr-defined]
    driver.get(page)  # type: ignore[attr-defined]

    def find(selector: str) -> object:
        return driver.find_element(By.CSS_SELECTOR, selector)  # type: ignore[attr-defined]

    def count(label: str) -> str:
        return str(find(f".card[data-count='{label}'] b").text)  # type: ignore[attr-defined]

    # The summary: refund-late-order regressed (5/5 -> 2/5), hostile-remarks still failing.
    counts = [count(label) for label in ("passed", "failed", "regressed", "quarantined")]
    assert counts == ["2", "2", "1", "1"]
    assert "2 cases failed" in find(".verdict").text  # type: ignore[attr-defined]
    assert "agent configuration changed since the baseline" in find(".banner").text  # type: ignore[attr-defined]

    # A failing case's transcript: open by default, user and agent turns, the judge's remarks.
    refund = find("#case-refund-late-order")
    assert refund.get_attribute("open") is not None  # type: ignore[attr-defined]
    turns = refund.find_elements(By.CSS_SELECTOR, ".turn")  # type: ignore[attr-defined]
    assert [t.get_attribute("class") for t in turns[:3]] == ["turn user", "turn agent", "turn user"]
    assert "You want a refund for an order that arrived two weeks late." in turns[0].text
    assert "Judge: The agent did not meet the success criteria" in refund.text  # type: ignore[attr-defined]
    assert refund.find_elements(By.CSS_SELECTOR, "svg.spark circle")  # the history chart

    # Escaping: the remark shows as text; no element came out of it.
    hostile = find("#case-hostile-remarks")
    assert "<script>window.pwned=1</script>" in hostile.text  # type: ignore[attr-defined]
    assert "<img src=x onerror=window.pwned=2>" in hostile.text  # type: ignore[attr-defined]
    assert driver.find_elements(By.TAG_NAME, "script") == []  # type: ignore[attr-defined]
    assert driver.find_elements(By.CSS_SELECTOR, ".detail img, .turn b, .remarks script") == []  # type: ignore[attr-defined]
    assert driver.execute_script("return window.pwned === undefined")  # type: ignore[attr-defined]

    # A filter (CSS only, works without JavaScript): Failing hides the passing cases.
    opening = find("#case-opening-hours")
    assert opening.is_displayed()  # type: ignore[attr-defined]
    find("label[for=f-failing]").click()  # type: ignore[attr-defined]
    assert not opening.is_displayed() and refund.is_displayed()  # type: ignore[attr-defined]
    find("label[for=f-all]").click()  # type: ignore[attr-defined]
    assert opening.is_displayed()  # type: ignore[attr-defined]

    # Nothing left the page, nothing went wrong in it.
    assert _requests(driver, page) == []
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]  # type: ignore[attr-defined]
    assert errors == []

    for width in (375, 1440):
        _screenshot(driver, width, tmp_path / f"report-{width}.png")
        assert (tmp_path / f"report-{width}.png").stat().st_size > 10_000
    # At 375 px nothing is wider than the screen.
    driver.set_window_size(375, 900)  # type: ignore[attr-defined]
    width = driver.execute_script("return document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert int(width) <= 375
