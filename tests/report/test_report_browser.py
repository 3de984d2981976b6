"""Open the report in a real headless Chromium: DOM, network, console, dialogs, screenshot.

Needs the Debian packages ``chromium`` (and ``chromium-driver`` in CI); skipped otherwise.
Set COHORTBENCH_SCREENSHOT_DIR to keep a copy of the screenshot.
"""

import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ._chromium import DevToolsPipe, find_chromium, run_chromium
from .conftest import EVIL
from .test_html_report import FIGURES, SECTIONS

CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.tags, self.text, self.sections = set(), [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.ids.update(value for key, value in attrs if key == "id")
        if tag == "section":
            self.sections.append(dict(attrs).get("id"))

    def handle_data(self, data):
        self.text.append(data)


def test_dumped_dom_has_every_section_and_figure(built_report, tmp_path):
    dom = run_chromium(CHROMIUM, tmp_path / "profile", "--dump-dom", built_report.as_uri())
    parser = _Ids()
    parser.feed(dom)
    missing = [i for i in SECTIONS + FIGURES if i not in parser.ids]
    assert not missing, f"not in the rendered DOM: {missing}"
    assert parser.sections[0] == "summary", parser.sections  # the answer comes first
    assert "script" not in parser.tags
    assert EVIL in "".join(parser.text)  # shown as text, not parsed as a tag


def test_no_request_no_console_error_no_dialog(built_report, tmp_path):
    browser = DevToolsPipe(CHROMIUM, tmp_path / "profile")
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget",
                               {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            browser.send(f"{domain}.enable", session=session)
        url = built_report.as_uri()
        browser.send("Page.navigate", {"url": url}, session=session)
        def page_event(*names):
            return lambda m: m.get("sessionId") == session and m.get("method") in names

        first = browser.wait_for(page_event("Page.loadEventFired",
                                            "Page.javascriptDialogOpening"))
        if first["method"] == "Page.javascriptDialogOpening":  # fail below, not by timeout
            browser.send("Page.handleJavaScriptDialog", {"accept": True}, session=session)
            browser.wait_for(page_event("Page.loadEventFired"))
        browser.drain(1.0)
        check = browser.send("Runtime.evaluate", {"returnByValue": True, "expression": """({
            ids: Array.from(document.querySelectorAll('[id]'), e => e.id),
            images: document.images.length,
            decoded: Array.from(document.images).every(i => i.complete && i.naturalWidth > 300),
            scripts: document.scripts.length,
            evilAsText: document.body.innerText.includes('<script>alert(1)</script>'),
            title: document.title,
        })"""}, session=session)["result"]["value"]
    finally:
        browser.close()
    events = [e for e in browser.events if e.get("sessionId") == session]
    requested = [e["params"]["request"]["url"] for e in events
                 if e["method"] == "Network.requestWillBeSent"]
    assert url in requested
    outside = [u for u in requested if u != url and not u.startswith("data:")]
    assert not outside, f"the report tried to load {outside}"
    errors = [e for e in events if e["method"] == "Runtime.exceptionThrown"
              or (e["method"] == "Runtime.consoleAPICalled"
                  and e["params"]["type"] in ("error", "assert"))
              or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")]
    assert not errors, errors
    assert not [e for e in events if e["method"] == "Page.javascriptDialogOpening"]
    assert set(SECTIONS + FIGURES) <= set(check["ids"])
    n_figures = len(list((built_report.parent / "figures").glob("*.png")))
    assert check["images"] == n_figures and check["decoded"]
    assert check["scripts"] == 0 and check["evilAsText"]
    assert check["title"].startswith(f"ALS demo {EVIL}")


def test_screenshot(built_report, tmp_path):
    shot = tmp_path / "report.png"
    run_chromium(CHROMIUM, tmp_path / "profile", f"--screenshot={shot}",
                 "--window-size=1280,4000", built_report.as_uri())
    assert shot.exists() and shot.stat().st_size > 20_000
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1280, 4000)
        colours = image.convert("RGB").resize((128, 400)).getcolors(maxcolors=1 << 16)
        assert colours is None or len(colours) > 50  # not a blank page
    keep = os.environ.get("COHORTBENCH_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / "report.png")


NEW_KINDS = """\
  - name: refine
    classifiers: [MLR_L2]
    grid: {row_scaling: [none, standard], column_scaling: [standard]}
  - name: learn
    kind: learn
    classifiers: [MLR_L2]
    pipeline: best
    tasks: [2-class]
    options: {repeats: 2, sizes: [10, 16]}
  - name: importance
    kind: importance
    options: {of: [refine]}
    tasks: [2-class]
"""


def test_the_learn_and_importance_sections_render(tmp_path):
    import cohortbench as cb
    from tests.conftest import write_tiny_study

    study = write_tiny_study(tmp_path / "cohort", permutations=2, stages=NEW_KINDS)
    outcome = cb.run(study, tmp_path / "run", jobs=1, quiet=True)
    assert outcome.failed == 0 and outcome.report_error is None, outcome
    dom = run_chromium(CHROMIUM, tmp_path / "profile", "--dump-dom",
                       (tmp_path / "run" / "report.html").as_uri())
    parser = _Ids()
    parser.feed(dom)
    assert parser.sections[0] == "summary", parser.sections
    assert {"stage-learn", "stage-importance"} <= set(parser.sections), parser.sections
    text = "".join(parser.text)
    assert "Learning curves, task 2-class" in text
    assert "The 15 regions with the largest activation" in text
    assert "script" not in parser.tags
