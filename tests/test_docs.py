"""The documentation pages in ``docs/`` are what the code cites: every ``docs: <Page>`` in a
docstring, comment or claim names a page of ``docs/`` (by its title), and every relative link
between pages resolves."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _titles() -> dict:
    """Page title (its first ``# `` heading, up to a colon) -> file."""
    out = {}
    for page in DOCS.glob("*.md"):
        head = next((ln for ln in page.read_text().splitlines() if ln.startswith("# ")), None)
        assert head is not None, f"{page.name} has no '# ' title"
        out[head[2:].split(":")[0].strip().lower()] = page
    return out


def test_every_docs_citation_names_a_page():
    titles = _titles()
    cited = {}
    for path in [*(ROOT / "lazyrich").rglob("*.py"), *(ROOT / "notebooks").glob("*.py")]:
        for m in re.finditer(r"docs: ([A-Z][A-Za-z ]*[a-z])", path.read_text()):
            cited.setdefault(m.group(1).lower(), []).append(path.name)
    assert cited, "no docs citations found: the pattern is wrong"
    missing = {c: files for c, files in cited.items() if c not in titles}
    assert missing == {}, f"cited pages with no docs/*.md title: {missing}"


def test_relative_links_between_pages_resolve():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"
