"""The site in a real browser: Debian's Chromium, headless, driven by Playwright (the Python package; it launches
the system browser, so nothing is downloaded). The site of every shipped results folder is served from a loopback
HTTP server, as it would be published; the tests open the index and one leaderboard page, sort a column, check
that every image loaded and that nothing was logged as an error, and that a screenshot is not blank.

Skipped, with the reason, where Playwright or Chromium is missing; .ci/run installs both, so CI runs them."""

import functools
import http.server
import os
import shutil
import statistics
import threading
from pathlib import Path

import pytest

from prunebench.report import site

RESULTS = Path(__file__).resolve().parents[1] / "results"
SUITES = sorted(p.parent for p in RESULTS.glob("*/cells"))
CHROMIUM = os.environ.get("PRUNEBENCH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Chromium on a closed network, as root: no sandbox (root), no GPU, and nothing that phones home, else it waits
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                     "(pip install playwright; .ci/run does)")
if not Path(CHROMIUM).is_file():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does)", allow_module_level=True)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output for failures
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The site of all shipped results, served on 127.0.0.1 (a free port) for the module's tests."""
    root = tmp_path_factory.mktemp("site")
    site.build(SUITES, root, generated="2026-12-01")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True, timeout=60_000)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (a fresh profile: Playwright launches with a temporary one) that records what goes wrong:
    console errors, uncaught exceptions and failed requests."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.problems = []
    page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda e: page.problems.append(f"exception: {e}"))
    page.on("requestfailed", lambda r: page.problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: r.status >= 400 and page.problems.append(f"HTTP {r.status}: {r.url}"))
    yield page
    context.close()


def images_loaded(page):
    """(all images, those that did not load): an image that failed has naturalWidth 0."""
    page.wait_for_load_state("load")
    return page.evaluate("""() => {
        const images = Array.from(document.images);
        return [images.length, images.filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)];
    }""")


def column(page, table_id, index):
    return page.eval_on_selector(f"#{table_id}", f"""t => Array.from(t.tBodies[0].rows)
        .map(r => r.cells[{index}].textContent.trim())""")


def test_the_index_lists_every_suite_with_its_answer(served, page):
    url, _ = served
    page.goto(f"{url}/index.html")
    assert page.inner_text("h1") == "prunebench results"
    suites = page.eval_on_selector_all("h2 a", "links => links.map(a => a.getAttribute('href'))")
    assert suites == [f"{p.name}/index.html" for p in SUITES]
    assert "Answer: " in page.inner_text("body")
    assert images_loaded(page) == [0, []]
    assert page.problems == []


def test_a_leaderboard_page_renders_sorts_and_loads_every_image(served, page):
    url, root = served
    page.goto(f"{url}/tea_bud_targets/index.html")
    assert page.inner_text("h1") == "prunebench leaderboard: tea_bud_targets"
    # the largest leaderboard table (the published tea_bud_targets came from two devices: two sections)
    table = max(page.query_selector_all("table.sortable[id^=board-]"),
                key=lambda t: len(t.query_selector_all("tbody tr")))
    table_id = table.get_attribute("id")
    if table_id.endswith("-rest"):  # the rows that are neither Pareto nor a reference: one click away
        assert not table.is_visible()
        page.click(f"details:has(#{table_id}) > summary")
        assert table.is_visible()
    headers = table.eval_on_selector_all("thead th", "ths => ths.map(th => th.textContent.trim())")
    index = headers.index("mAP50-95 [95% CI]")
    before = column(page, table_id, index)
    assert len(before) > 10
    table.query_selector_all("thead th")[index].click()
    ascending = column(page, table_id, index)
    numbers = [float(text.split()[0]) for text in ascending if text not in ("", "—")]
    assert numbers == sorted(numbers) and ascending != before
    assert sorted(ascending) == sorted(before)  # the same rows, reordered
    assert table.query_selector_all("thead th")[index].get_attribute("aria-sort") == "ascending"
    table.query_selector_all("thead th")[index].click()
    descending = [float(t.split()[0]) for t in column(page, table_id, index) if t not in ("", "—")]
    assert descending == sorted(numbers, reverse=True)

    count, broken = images_loaded(page)
    assert count == len(list((root / "tea_bud_targets" / "plots").glob("*.png"))) > 5 and broken == []
    page.click("table.sortable tbody tr a")  # a row's cell link opens its cell page
    page.wait_for_load_state("load")
    assert "/tea_bud_targets/cells/" in page.url and "Kept model and exports" in page.inner_text("body")
    assert page.problems == []


def test_every_page_loads_without_errors(served, page):
    url, root = served
    pages = sorted(root.rglob("*.html"))
    assert len(pages) > 60
    for path in pages:
        page.goto(f"{url}/{path.relative_to(root).as_posix()}")
        _, broken = images_loaded(page)
        assert broken == [], path
    assert page.problems == []


def test_a_screenshot_of_a_leaderboard_is_not_blank(served, page, tmp_path):
    from PIL import Image, ImageStat

    url, _ = served
    page.goto(f"{url}/tea_bud_laptop/index.html")
    images_loaded(page)
    shot = tmp_path / "leaderboard.png"
    page.screenshot(path=str(shot), full_page=False)
    gray = Image.open(shot).convert("L")
    assert gray.size == (1400, 900)
    spread = ImageStat.Stat(gray).stddev[0]
    assert spread > 20, f"the page looks blank (pixel sd {spread:.1f})"
    # and not one flat colour with a few marks: many rows of the image hold ink
    rows = [statistics.pstdev(gray.crop((0, y, gray.width, y + 1)).getdata()) for y in range(0, 900, 10)]
    assert sum(r > 5 for r in rows) > 30


@pytest.mark.parametrize("path", ["index.html", "deploy/index.html"])
def test_the_first_screen_holds_the_answer_and_the_chart(served, browser, path, tmp_path):
    """At 1366x768, a common laptop screen, the answer sentence and the whole accuracy-against-speed chart are
    inside the first screen, before any scrolling; the screenshot is kept beside the test's files."""
    url, _ = served
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.goto(f"{url}/{path}")
    page.wait_for_load_state("load")
    page.screenshot(path=str(tmp_path / "first-screen.png"))
    sentence = page.query_selector(".first-screen .answer-sentence")
    chart = page.query_selector(".first-screen svg.chart")
    assert sentence is not None and chart is not None
    assert sentence.inner_text().startswith("Ship the dense model as OpenVINO INT8") == (path != "index.html" or
                                                                                        SUITES[0].name == "deploy")
    for element in (sentence, chart):
        box = element.bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= 768 and box["x"] + box["width"] <= 1366, box
    assert chart.bounding_box()["height"] > 200  # a chart one can read, not a thumbnail
    # hovering a point names it; clicking it opens its cell
    point = page.query_selector_all(".first-screen svg.chart a.point")[-1]  # drawn last: on top of any other
    assert "faster than dense PyTorch" in point.query_selector("title").text_content()
    point.click()
    page.wait_for_load_state("load")
    assert "/cells/" in page.url
    context.close()


def test_the_page_fixture_sees_console_errors_and_broken_images(page):
    """The checks above can fail: an error logged and an image that does not load are both seen."""
    page.set_content('<img src="data:image/png;base64,AAAA"><script>console.error("boom")</script>')
    assert images_loaded(page)[1] and any("boom" in p for p in page.problems)
