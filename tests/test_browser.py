"""A small site (page, stylesheet, script, image) rendered by a real
headless Chromium: the page renders, every sub-resource loads with 200, and
a screenshot is saved."""

import struct
import zlib

import pytest

import fastcore
from conftest import require_module, require_tool


def png(width, height, rgb):
    """A valid PNG of one colour, built by hand (no imaging library)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height))
            + chunk(b"IEND", b""))


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>fastcore test site</title>
  <link rel="stylesheet" href="/assets/style.css">
  <script src="/assets/app.js" defer></script>
</head>
<body>
  <h1>Hello, World!</h1>
  <p id="status">script not run</p>
  <img id="logo" src="/assets/logo.png" alt="logo" width="64" height="32">
</body>
</html>
""")
    (root / "assets" / "style.css").write_text("h1 { color: rgb(200, 30, 40); }\n")
    (root / "assets" / "app.js").write_text(
        "document.getElementById('status').textContent = 'script ran';\n")
    (root / "assets" / "logo.png").write_bytes(png(64, 32, (20, 120, 220)))
    (root / "favicon.ico").write_bytes(png(16, 16, (20, 120, 220)))   # browsers ask for it
    return root


def test_page_renders_in_headless_chromium(serve, site, tmp_path):
    chromedriver = require_tool("chromedriver")
    chromium = require_tool("chromium")
    webdriver = require_module("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    app = fastcore.App()
    app.static("/", site)
    with serve(app) as server:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=800,600"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        try:
            driver.set_page_load_timeout(30)
            driver.get(server.url)
            assert driver.execute_script("return document.readyState") == "complete"
            assert driver.title == "fastcore test site"
            h1 = driver.find_element("tag name", "h1")
            assert h1.text == "Hello, World!"
            # The stylesheet applied, the script ran, the image decoded.
            assert h1.value_of_css_property("color") == "rgba(200, 30, 40, 1)"
            assert driver.find_element("id", "status").text == "script ran"
            assert driver.execute_script(
                "const img = document.getElementById('logo');"
                "return img.complete && img.naturalWidth") == 64
            # Every resource, the page included, came back 200.
            statuses = driver.execute_script("""
                return performance.getEntriesByType('navigation')
                    .concat(performance.getEntriesByType('resource'))
                    .map(e => [e.name, e.responseStatus]);
            """)
            names = {name.rsplit("/", 1)[-1] or "/": status for name, status in statuses}
            assert names.pop("favicon.ico", 200) == 200       # if already fetched
            assert names == {"/": 200, "style.css": 200, "app.js": 200, "logo.png": 200}
            screenshot = tmp_path / "page.png"
            assert driver.save_screenshot(str(screenshot))
            assert screenshot.read_bytes().startswith(b"\x89PNG")
            assert screenshot.stat().st_size > 1000
        finally:
            driver.quit()
