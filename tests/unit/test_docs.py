"""The README and docs/*.rst: they render with docutils without a warning, every relative link names a
file of the repository, and the README stays short (the details live under docs/)."""

import io
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

docutils_core = pytest.importorskip("docutils.core")
from docutils import nodes  # noqa: E402  (after the importorskip)

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.rst"
PAGES = [README, *sorted((ROOT / "docs").glob("*.rst"))]
MAX_README_LINES = 300


def _has_pygments():
    try:
        import pygments  # noqa: F401
    except ImportError:
        return False
    return True


def doctree(path: Path):
    """The parsed document and whatever docutils reported at level 2 (warning) or above."""
    stream = io.StringIO()
    settings = {
        "report_level": 2,  # warnings and worse
        "halt_level": 5,  # never stop: collect every report
        "warning_stream": stream,
        "file_insertion_enabled": False,
        "raw_enabled": False,
    }
    if not _has_pygments():
        settings["syntax_highlight"] = "none"  # `code-block:: console` would warn that pygments is missing
    tree = docutils_core.publish_doctree(
        path.read_text(encoding="utf-8"), source_path=str(path), settings_overrides=settings)
    return tree, stream.getvalue()


def link_targets(tree):
    """Every URI a reference or hyperlink target of the document points at."""
    for node in tree.findall(lambda n: isinstance(n, (nodes.reference, nodes.target))):
        uri = node.get("refuri")
        if uri:
            yield uri


def is_external(uri: str) -> bool:
    return uri.startswith(("http://", "https://", "mailto:")) or uri.startswith("#")


def test_the_pages_are_there():
    names = {p.name for p in PAGES if p.parent.name == "docs"}
    assert {"index.rst", "usage.rst", "layout.rst", "mirrors.rst", "cylc.rst", "performance.rst",
            "performance-remote.rst", "reliability.rst", "design.rst", "testing.rst", "tools.rst",
            "limits.rst", "changelog.rst"} <= names


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_renders_without_warnings(path):
    _tree, reports = doctree(path)
    assert reports == "", f"docutils reported, for {path.relative_to(ROOT)}:\n{reports}"


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_name_files_that_exist(path):
    tree, _reports = doctree(path)
    missing = []
    for uri in link_targets(tree):
        if is_external(uri):
            continue
        parts = urlsplit(uri)
        assert not parts.scheme, f"{path.name}: link with an unexpected scheme: {uri}"
        target = (path.parent / unquote(parts.path)).resolve()
        if not target.exists() or ROOT not in (target, *target.parents):
            missing.append(uri)
    assert not missing, f"{path.relative_to(ROOT)} links to files that do not exist: {missing}"


def test_every_docs_page_is_linked_from_the_readme_and_the_index():
    readme_links = {urlsplit(u).path for u in link_targets(doctree(README)[0])}
    index_links = {urlsplit(u).path for u in link_targets(doctree(ROOT / "docs" / "index.rst")[0])}
    for page in PAGES[1:]:
        if page.name != "index.rst":
            assert page.name in index_links, f"docs/index.rst does not link {page.name}"
        assert f"docs/{page.name}" in readme_links, f"README.rst does not link docs/{page.name}"


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines < MAX_README_LINES, f"README.rst has {lines} lines: move details to docs/"
