"""report.html in a real headless Chromium (Debian's chromium and chromium-driver; `bash .ci/chromium.sh install`).

Nothing is installed here. Skips with the reason where Chromium is not installed; fails instead when
SUMEXP_REQUIRE_CHROMIUM=1 (set by .ci/run), so CI cannot pass without running it.
Set SUMEXP_REPORT_SCREENSHOT=docs/images/report.png to refresh the README's screenshot.
"""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from sumexp.report import write_report
from tests.support.limits import hang_limit
from tests.support.repo import REPO
from tests.support.runs import completed, config, dev_predictions, make_run

pytestmark = pytest.mark.slow  # starts a browser
REQUIRED = os.environ.get("SUMEXP_REQUIRE_CHROMIUM") == "1"
DEV = [f"dev_{i}" for i in range(6)]  # the shipped sample's first dev ids, so the viewer finds their dialogues
RUNS = [  # name, model, requested, effective, per-example ROUGE mean
    ("0_tiny_bart_full", "tiny_bart", "full", None, [30, 40, 50, 20, 35, 45]),
    ("1_tiny_bart_lora", "tiny_bart", "lora", None, [32, 41, 10, 22, 36, 46]),
    ("2_tiny_llama_full", "tiny_llama", "full", None, [20, 25, 30, 35, 40, 45]),
    ("3_tiny_llama_unsloth", "tiny_llama", "unsloth", "qlora", [21, 24, 90, 36, 41, 44]),
]


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium under Selenium, quit after the module."""
    done = subprocess.run(
        ["bash", str(REPO / ".ci" / "chromium.sh")], capture_output=True, text=True, timeout=hang_limit(900)
    )
    if done.returncode != 0:
        message = f"headless Chromium unavailable: {done.stderr.strip()[-1500:]}"
        (pytest.skip if done.returncode == 3 and not REQUIRED else pytest.fail)(message)
    chromium, driver_path = done.stdout.split()
    try:
        from selenium import webdriver
    except ImportError:
        (pytest.fail if REQUIRED else pytest.skip)("selenium is not installed: pip install -e '.[dev]'")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_sweep")
    for name, model, backend, effective, scores in RUNS:
        predictions = [f"{name} summary of {fname}" for fname in DEV]
        make_run(
            root,
            name,
            completed(model, backend, effective=effective, dev_rouge_mean=float(np.mean(scores))),
            config=config(model=model, backend=backend),
            examples=dev_predictions(scores, DEV, predictions=predictions),
        )
    write_report([root], root)
    return root / "report.html"


def _order(driver) -> list[str]:
    return [row.get_attribute("data-run") for row in driver.find_elements("css selector", "#runs tbody tr")]


def test_the_table_has_a_row_per_run_and_sorts_by_a_clicked_header(browser, report):
    browser.get(report.as_uri())
    assert _order(browser) == [r[0] for r in RUNS]
    header = next(h for h in browser.find_elements("css selector", "#runs th") if h.text.startswith("ROUGE mean"))
    means = {name: np.mean(scores) for name, *_, scores in RUNS}
    header.click()
    assert _order(browser) == sorted(means, key=means.get)
    header.click()
    assert _order(browser) == sorted(means, key=means.get, reverse=True)
    shot = os.environ.get("SUMEXP_REPORT_SCREENSHOT")
    if shot:
        browser.save_screenshot(str(REPO / shot))


def test_the_viewer_shows_every_runs_summary_for_the_most_disputed_dialogue_first(browser, report):
    from sumexp.data.sample import make_sample_splits

    browser.get(report.as_uri())
    first = browser.find_element("css selector", "#dialogue-select option").text
    assert first.startswith("dev_2 ")  # per-example ROUGE 50, 10, 30, 90: the largest spread
    cards = browser.find_elements("css selector", "#viewer-dialogue .run-card")
    assert [c.get_attribute("data-run") for c in cards] == [r[0] for r in RUNS]
    summaries = [c.find_element("css selector", ".summary").text for c in cards]
    assert summaries == [f"{r[0]} summary of dev_2" for r in RUNS]
    assert "mean 90.0" in cards[3].text and "tiny_llama_unsloth (unsloth → qlora)" in cards[3].text
    dev = make_sample_splits()["dev"].set_index("fname")
    shown = browser.find_element("css selector", "#viewer-dialogue .dialogue").text
    assert shown.splitlines()[0] == dev.loc["dev_2", "dialogue"].splitlines()[0]


def test_the_viewer_filters_by_model_and_backend(browser, report):
    from selenium.webdriver.support.ui import Select

    browser.get(report.as_uri())
    Select(browser.find_element("id", "model-filter")).select_by_value("tiny_llama")
    runs = [c.get_attribute("data-run") for c in browser.find_elements("css selector", ".run-card")]
    assert runs == ["2_tiny_llama_full", "3_tiny_llama_unsloth"]
    Select(browser.find_element("id", "backend-filter")).select_by_value("unsloth → qlora")
    assert [c.get_attribute("data-run") for c in browser.find_elements("css selector", ".run-card")] == [
        "3_tiny_llama_unsloth"
    ]


def test_the_runs_and_backends_tables_fit_a_1400_pixel_window(browser, report):
    """Every column, the speed column at the right included, is inside the window without scrolling sideways."""
    browser.get(report.as_uri())
    browser.set_window_size(1400, 1000)
    width = browser.execute_script("return document.documentElement.clientWidth")
    assert width <= 1400
    for table in ("#runs", "#backends"):
        right = browser.execute_script(f"return document.querySelector('{table}').getBoundingClientRect().right")
        assert right <= width, (table, right, width)
        headers = browser.execute_script(
            f"return [...document.querySelectorAll('{table} th')].map(h => h.getBoundingClientRect().right)"
        )
        assert len(headers) > 5 and max(headers) <= width, (table, headers)
