"""The reader page in real Debian chromium, driven by selenium through Debian's chromium-driver.

A reader types a name, answers every item by keyboard (some with a confidence set on the
slider by keyboard), reloads half-way and resumes, and exports the CSV through the page's
download. The page logs no console error and requests nothing but itself; `racelens reader
score` on the downloaded file gives the AUC scikit-learn computes from it independently.
CI installs chromium and chromium-driver with scripts/browser-deps.sh; without them these tests
are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from racelens.reader.make import StudyConfig, make_study
from racelens.reader.order import reader_order

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                        else None)
DRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver"
                                          if os.path.exists("/usr/bin/chromedriver") else None)
READER = "Dr Ada Lovelace"


@pytest.fixture
def driver(tmp_path):
    if CHROMIUM is None or DRIVER is None:
        pytest.skip("chromium and chromium-driver are not installed; run scripts/browser-deps.sh "
                    "(apt-get install chromium chromium-driver)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed; pip install 'racelens[dev]'")
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download a driver
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-default-apps", "--disable-extensions",
                 "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"):
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    d.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow",
                                                   "downloadPath": str(downloads)})
    d.downloads = downloads
    yield d
    d.quit()


def _current(d) -> str:
    return d.find_element("id", "item-label").text.removeprefix("item id ").strip()


def _answer(d, item: str, truth: str, groups: list[str], step: int) -> tuple[str, int | None]:
    """Answer the item shown by keyboard: right, wrong or can't tell; sometimes with confidence."""
    from selenium.webdriver.common.keys import Keys

    body = d.find_element("tag name", "body")
    if step % 5 == 4:
        body.send_keys("0")
        return "cant_tell", None
    guess = truth if step % 3 else groups[(groups.index(truth) + 1) % len(groups)]
    confidence = None
    if step % 2:  # slider by keyboard: focus it, then steps of 5 from its current value
        slider = d.find_element("id", "confidence")
        slider.send_keys(Keys.END)
        slider.send_keys(Keys.ARROW_LEFT * (step % 4))
        confidence = int(slider.get_attribute("value"))
        slider.send_keys(str(groups.index(guess) + 1))  # the digit key works on the slider too
    else:
        body.send_keys(str(groups.index(guess) + 1))
    return guess, confidence


def _assert_quiet_and_offline(d, url: str) -> None:
    """No console error; the only request is the page itself (data: images and the blob: of the
    download are not network requests)."""
    errors = [e for e in d.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, errors
    requested = []
    for entry in d.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] == "Network.requestWillBeSent":
            requested.append(msg["params"]["request"]["url"])
    others = [u for u in requested if u != url and not u.startswith(("data:", "blob:"))]
    assert url in requested and not others, others


def _wait(predicate, seconds: float = 90.0):
    """Poll ``predicate`` until it is truthy. The limit is generous because the suite runs on two
    shared cores beside other workers (a 20 s limit timed out there once); it costs nothing when
    the page is quick. A page that is reloading may briefly have no element or no script object:
    those errors mean "not yet", not failure (the last one is raised if time runs out)."""
    from selenium.common.exceptions import (
        JavascriptException,
        NoSuchElementException,
        StaleElementReferenceException,
    )

    until = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < until:
        try:
            out = predicate()
        except (JavascriptException, NoSuchElementException, StaleElementReferenceException) as exc:
            last, out = exc, None
        if out:
            return out
        time.sleep(0.1)
    raise TimeoutError(f"condition not met in {seconds:.0f} s") from last


def test_reader_page_by_keyboard_with_reload_and_export(tmp_path, driver, notes_csv):
    from racelens.cli.main import main

    study = make_study(StudyConfig(out=tmp_path / "study", notes=notes_csv, patient_col="subject_id",
                                   sample_col="note_id", n=12, seed=3))
    key = json.loads(study.key.read_text())
    groups = list(study.groups)
    url = study.page.resolve().as_uri()
    driver.get_log("performance")  # drain what the browser's own start-up page requested
    driver.get(url)
    name = driver.find_element("id", "name")
    name.send_keys(READER + "\n")
    ids = study.items_csv.read_text().split()[1:]
    expected_order = reader_order(ids, 3, READER)
    assert driver.execute_script("return window.racelensReader.order(arguments[0]);",
                                 READER) == expected_order

    typed: dict[str, tuple[str, int | None]] = {}
    half = len(ids) // 2
    for step in range(len(ids)):
        if step == half:  # close and reopen: the page resumes where the reader stopped
            driver.refresh()
            _wait(lambda: driver.find_element("id", "reading").is_displayed())
            assert driver.find_element("id", "reader-name").text == READER
            assert driver.execute_script("return window.racelensReader.answered();") == half
        item = _current(driver)
        assert item == expected_order[step]  # the reader's own order, unanswered items first
        typed[item] = _answer(driver, item, key[item], groups, step)
        _wait(lambda n=step + 1: driver.execute_script(
            "return window.racelensReader.answered();") == n)
    assert driver.find_element("id", "done").is_displayed()

    driver.find_element("id", "export").click()
    csv = _wait(lambda: [p for p in driver.downloads.glob("*.csv")
                         if p.stat().st_size > 0 and not p.name.endswith(".crdownload")])[0]
    assert csv.name == "answers-Dr_Ada_Lovelace.csv"

    _assert_quiet_and_offline(driver, url)

    answers = pd.read_csv(csv, dtype={"item_id": str})
    assert list(answers.columns) == ["item_id", "reader", "guess",
                                     *[f"p_{g}" for g in groups], "seconds"]
    assert answers["item_id"].tolist() == expected_order
    assert set(answers["reader"]) == {READER}
    for row in answers.itertuples():
        guess, confidence = typed[row.item_id]
        assert row.guess == guess
        p = np.array([getattr(row, f"p_{g}") for g in groups])
        if guess == "cant_tell":
            np.testing.assert_allclose(p, 1 / len(groups), atol=1e-4)
        elif confidence is None:
            assert np.isnan(p).all()
        else:
            assert p[groups.index(guess)] == pytest.approx(confidence / 100, abs=1e-4)

    out = tmp_path / "scored"
    main(["reader", "score", "--study", str(study.out), "--answers", str(csv), "--out", str(out),
          "--n-boot", "50"])
    result = json.loads((out / "result.json").read_text())
    assert result["modality"] == "human"

    # independently: confidences where given, one-hot guesses otherwise, macro of sklearn's AUCs
    truth = answers["item_id"].map(key)
    scores = np.zeros((len(answers), len(groups)))
    for i, row in enumerate(answers.itertuples()):
        p = np.array([getattr(row, f"p_{g}") for g in groups])
        scores[i] = p if not np.isnan(p).any() else np.eye(len(groups))[groups.index(row.guess)]
    expected = np.mean([roc_auc_score(truth == g, scores[:, j]) for j, g in enumerate(groups)])
    assert result["conditions"][0]["auc"]["macro"]["estimate"] == pytest.approx(expected, abs=1e-12)
    assert result["conditions"][0]["n_test"] == len(ids)


def test_image_page_shows_embedded_images_offline(tmp_path, driver):
    from racelens.imaging.sources.cohort import from_table, write_manifest
    from racelens.imaging.synthetic import write_png

    rng = np.random.default_rng(0)
    rows = [{"path": str(write_png(tmp_path / "img" / f"p{p}.png", rng.random((120, 100)))),
             "race": "BLACK/AFRICAN AMERICAN" if p % 2 else "WHITE", "pid": p} for p in range(6)]
    cohort = from_table(pd.DataFrame(rows), path_col="path", race_col="race", patient_col="pid",
                        race_source="mimic-iv", collapse="bw")
    manifest, _ = write_manifest(cohort, tmp_path / "manifest.parquet")
    study = make_study(StudyConfig(out=tmp_path / "study", manifest=manifest, n=6, seed=0,
                                   image_size=64))
    url = study.page.resolve().as_uri()
    driver.get_log("performance")
    driver.get(url)
    driver.find_element("id", "name").send_keys("R\n")
    image = driver.find_element("id", "image")
    _wait(lambda: driver.execute_script("return arguments[0].complete && "
                                        "arguments[0].naturalWidth;", image))
    assert driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight];",
                                 image) == [53, 64]
    assert not driver.find_element("id", "note").is_displayed()
    driver.find_element("tag name", "body").send_keys("2")
    _wait(lambda: driver.execute_script("return window.racelensReader.answered();") == 1)
    _assert_quiet_and_offline(driver, url)
