"""The README's examples are real: the app in "Using it" passes ``mypy
--strict`` and answers as the README says, through the test client, and so
does the test written in "Testing an app"."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

from conftest import require_module
from test_typing import require_mypy, run_mypy

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks(section: str) -> list[str]:
    """The ```python blocks of a README section (## or ###), in order."""
    text = README.read_text()
    match = re.search(rf"^#+ {re.escape(section)}\n(.*?)(?=^#+ )", text, re.M | re.S)
    assert match, f"README has no section {section!r}"
    return re.findall(r"^```python\n(.*?)^```", match.group(1), re.M | re.S)


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The README's app as myapp.py and its test as test_myapp.py."""
    app = python_blocks("Using it")[0]
    assert 'if __name__ == "__main__":' in app
    (tmp_path / "myapp.py").write_text(app)
    (tmp_path / "test_myapp.py").write_text(python_blocks("Testing an app")[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "myapp", raising=False)
    return tmp_path


def test_the_readme_example_passes_mypy_strict(example: Path) -> None:
    require_mypy()
    errors = run_mypy(example, example / "myapp.py", example / "test_myapp.py")
    assert errors == {"myapp.py": [], "test_myapp.py": []}


def test_the_readme_example_answers_as_described(example: Path) -> None:
    require_module("multipart")
    namespace = runpy.run_path(str(example / "myapp.py"), run_name="myapp")
    with namespace["app"].test_client() as client:
        page = client.get("/")
        assert page.status == 200 and "Hello, stranger!" in page.text
        assert 'enctype="multipart/form-data"' in page.text

        login = client.post("/login", data={"user": "Ann Lee"})
        assert (login.status, login.headers["location"]) == (303, "/")
        assert "content-type" not in login.headers and login.body == b""
        assert client.cookies == {"user": "Ann%20Lee"}
        assert "Hello, Ann Lee!" in client.get("/").text

        added = client.post("/notes", data=[("title", "Plan"), ("tag", "work")],
                            files={"attachment": ("plan.txt", b"step 1", "text/plain")})
        assert (added.status, added.headers["location"]) == (303, "/notes/0")
        assert client.get("/notes/0").json() == {
            "id": 0, "title": "Plan", "tags": ["work"], "file": "plan.txt", "size": 6}
        assert client.post("/notes", data={"title": ""}).status == 400

        created = client.post("/api/notes", json={"title": "API"})
        assert (created.status, created.headers["location"]) == (201, "/notes/1")
        assert created.headers["content-type"] == "application/json"
        assert client.get("/notes", query={"tag": "work"}).json()[0]["title"] == "Plan"
        assert len(client.get("/notes").json()) == 2
        assert client.post("/api/notes", data=b"{").status == 400

        for path in ("/notes/7", "/no/such/page"):
            missing = client.get(path)
            assert (missing.status, missing.text) == (404, f"<h1>Nothing at {path}</h1>")


def test_the_readme_test_passes(example: Path) -> None:
    namespace = runpy.run_path(str(example / "test_myapp.py"))
    namespace["test_login_sets_the_cookie"]()
