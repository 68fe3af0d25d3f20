"""The documentation: what the code cites exists, the site builds with ``--strict``, and a real
browser shows it (and the ``verify`` report) with every image and every formula.

* every ``docs: <Page>`` in a docstring, comment or claim names a page of ``docs/`` (by title),
  relative links between pages resolve, and no file of the repository points outside it (the
  working notes the maths was first written in are not part of the repository);
* ``mkdocs build --strict`` succeeds (API reference, executed notebooks, the claim table);
* headless Chromium, driven over the DevTools protocol, opens built pages and a ``verify``
  report: every image has a non-zero natural width, MathJax typeset every formula, and the
  console has no errors. Without Chromium (Debian package ``chromium``; ``.ci/run`` installs it)
  those tests skip and say why.
"""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# Text that points at the working notes outside the repository (assembled from pieces, so that
# this file does not itself contain what it looks for).
_NOTES = ("linear-networks", "gamma-scaling", "richness-metric", "manifold-capacity",
          "kernel-theory", "dmft", "engineering")
_SECTION_SIGN = chr(0xA7)
_SHARED = ".." + "/shared"
OUTSIDE = re.compile("|".join([re.escape(_SHARED), "shared/" + "spec", "spec/",
                               re.escape(_SECTION_SIGN)])
                     + r"|\b(?:" + "|".join(_NOTES) + r")\.md")
SCANNED = ("lazyrich", "tests", "notebooks", "benchmarks", "docs", "examples", "tools")
TOP_FILES = ("README.md", "Makefile", "pyproject.toml", "mkdocs.yml")


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
        # a citation may wrap onto the next line of a docstring, string or comment
        text = re.sub(r"\s*\n\s*(?:#\s*)?\"?", " ", path.read_text())
        for m in re.finditer(r"docs: ([A-Z][A-Za-z ]*[a-z])", text):
            cited.setdefault(m.group(1).lower(), []).append(path.name)
    assert cited, "no docs citations found: the pattern is wrong"
    missing = {c: files for c, files in cited.items() if c not in titles}
    assert missing == {}, f"cited pages with no docs/*.md title: {missing}"


GENERATED = {"claims.md"}  # made at build time from the claim registry (tools/mkdocs_hooks.py)


def test_relative_links_between_pages_resolve():
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text()):
            assert target in GENERATED or (page.parent / target).is_file(), (
                f"{page.name} links to missing {target}")


def _repository_files():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout.strip():
        names = [ROOT / n for n in tracked.stdout.split()]
    else:  # not a git checkout: scan the source folders
        names = [p for d in SCANNED for p in (ROOT / d).rglob("*") if p.is_file()]
        names += [ROOT / n for n in TOP_FILES]
    return [p for p in names if p.is_file() and p.suffix in (".py", ".md", ".toml", ".yml", ".txt",
                                                              ".cfg", "")]


def test_nothing_points_outside_the_repository():
    """No file cites the working notes (the folder beside the repository they live in, their
    file names, or their section signs): docstrings cite the docs pages and the papers."""
    bad = []
    for path in _repository_files():
        if path == pathlib.Path(__file__):
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if OUTSIDE.search(line):
                bad.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()[:90]}")
    assert bad == [], f"{len(bad)} lines point outside the repository:\n" + "\n".join(bad[:40])


def test_the_scan_sees_what_it_must():
    for text in (f"see {_SHARED}/spec/x", f"(spec {_SECTION_SIGN}1.2)", _NOTES[1] + ".md",
                 _SECTION_SIGN + "3", _NOTES[5] + ".md"):
        assert OUTSIDE.search(text), text
    for text in ("docs: Gamma scaling", "docs/theory-gamma.md", "Dominé et al. 2025, Sec. 4"):
        assert not OUTSIDE.search(text), text


# ---------------------------------------------------------------------------------------------
# The built site and a browser
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``mkdocs build --strict`` of the repository into a temporary folder (as ``make docs``)."""
    mkdocs = pathlib.Path(sys.executable).with_name("mkdocs")
    if not mkdocs.exists():
        pytest.skip("mkdocs is not installed (pip install -e '.[docs]'; make test does)")
    out = tmp_path_factory.mktemp("site")
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    # every notebook is run by test_notebooks.py: here only the one whose page is opened below
    env |= {"LAZYRICH_FAST": "1", "LAZYRICH_FIGDIR": str(tmp_path_factory.mktemp("figs")),
            "NO_MKDOCS_2_WARNING": "1", "LAZYRICH_DOCS_EXECUTE": "kernel_regime"}
    res = subprocess.run([str(mkdocs), "build", "--strict", "--quiet", "-d", str(out)], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-4000:]
    return out


def test_site_builds_strict_with_every_page(site):
    for page in ("index.html", "conventions.html", "claims.html", "how-to.html",
                 "theory-kernels.html", "api/theory.html", "notebooks/kernel_regime.html",
                 "assets/mathjax/tex-svg-full.js"):
        assert (site / page).is_file(), page
    claims = (site / "claims.html").read_text()
    assert "kernels/lazy-mlp-gamma-expansion" in claims and "linear/C1-balanced-init" in claims
    assert "data:image/png" in (site / "notebooks" / "kernel_regime.html").read_text()


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if path := shutil.which(name):
            return path
    pytest.skip("no Chromium on this machine: install the Debian package 'chromium' "
                "(apt-get install chromium; .ci/run does where it can)")


class Browser:
    """Headless Chromium over the DevTools protocol (JSON over one websocket)."""

    def __init__(self, tmp: pathlib.Path):
        import websocket

        self.proc = subprocess.Popen(
            [_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--allow-file-access-from-files",
             "--remote-debugging-port=0", f"--user-data-dir={tmp}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)  # its own process group: close() ends every helper process
        try:
            port_file = tmp / "DevToolsActivePort"
            for _ in range(300):
                if port_file.exists() and port_file.read_text().strip():
                    break
                time.sleep(0.1)
            port = int(port_file.read_text().split()[0])
            req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank",
                                         method="PUT")
            target = json.loads(urllib.request.urlopen(req, timeout=30).read())
            self.ws = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60,
                                                  suppress_origin=True)
        except BaseException:
            self._kill()
            raise
        self.next_id, self.events = 0, []
        for method in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.call(method)

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def open(self, path: pathlib.Path):
        """Load ``path``, wait for the load event, and return the console errors it caused."""
        self.events.clear()
        self.call("Page.navigate", url=path.as_uri())
        deadline = time.time() + 60
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            assert time.time() < deadline, f"{path} did not load"
            self.events.append(json.loads(self.ws.recv()))

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                        returnByValue=True)
        assert "exceptionDetails" not in res, res["exceptionDetails"]
        return res["result"].get("value")

    def console_errors(self) -> list:
        errors = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.exceptionThrown":
                errors.append(p["exceptionDetails"].get("text", "exception"))
            elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
                errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                       for a in p.get("args", [])))
            elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
                errors.append(p["entry"].get("text", ""))
        return errors

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()

    def close(self):
        self.ws.close()
        self._kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    pytest.importorskip("websocket", reason="websocket-client is not installed (the dev extra)")
    b = Browser(tmp_path_factory.mktemp("chromium"))
    yield b
    b.close()


# Waits for every <img> to finish (non-zero natural width) and for MathJax, then reports.
_INSPECT = r"""(async () => {
  const imgs = [...document.images];
  await Promise.all(imgs.map(i => i.complete ? 0
                                             : new Promise(r => {i.onload = i.onerror = r;})));
  if (window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
  const tex = /\$|\\\(|\\\[/;  // a formula's delimiters, left in the text if not typeset
  const maths = [...document.querySelectorAll('.arithmatex, .jp-RenderedMarkdown')]
    .filter(m => tex.test(m.textContent) || m.querySelector('mjx-container'));
  const untypeset = maths.filter(m => !m.querySelector('mjx-container'));
  return {images: imgs.length,
          broken: imgs.filter(i => !i.naturalWidth).map(i => i.src.slice(0, 80)),
          maths: maths.length, untypeset: untypeset.map(m => m.textContent.slice(0, 60))};
})()"""


@pytest.mark.parametrize("page, images, maths", [
    ("index.html", 0, 0), ("conventions.html", 0, 20), ("theory-kernels.html", 0, 20),
    ("theory-linear.html", 1, 50), ("theory-gamma.html", 0, 50),
    ("theory-richness.html", 0, 50), ("theory-capacity.html", 0, 50), ("how-to.html", 0, 1),
    ("claims.html", 0, 0), ("api/theory.html", 0, 50), ("notebooks/kernel_regime.html", 3, 1)])
def test_browser_shows_the_site(site, browser, page, images, maths):
    """Each page: its images decode (natural width > 0; the notebooks' figures are in the page),
    MathJax typeset every formula (none left as TeX), and the console shows no error."""
    browser.open(site / page)
    got = browser.evaluate(_INSPECT)
    assert got["images"] >= images and got["broken"] == [], got
    assert got["maths"] >= maths and got["untypeset"] == [], got
    assert browser.console_errors() == []


def test_browser_shows_the_verify_report(browser, tmp_path):
    """A real ``lazyrich verify --report`` (two fast claims): both figures decode and the page
    has no console error."""
    env = {k: v for k, v in os.environ.items()} | {"MPLBACKEND": "Agg"}
    res = subprocess.run([sys.executable, "-m", "lazyrich.cli", "verify", "--quick",
                          "--no-progress", "--report", str(tmp_path), "linear/C1-balanced-init",
                          "linear/C4-riccati-identity"], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    browser.open(tmp_path / "index.html")
    got = browser.evaluate(_INSPECT)
    assert got["images"] == 2 and got["broken"] == [], got
    assert browser.console_errors() == []


def test_api_reference_rewrites_rest_markup_for_mkdocstrings():
    """The griffe extension behind the API reference turns the docstrings' reST into Markdown:
    math roles and blocks into MathJax delimiters, cross-reference roles and double backquotes
    into code, and a literal-block marker ``::`` into ``:``."""
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from griffe_rst_math import rst_to_markdown
    finally:
        sys.path.pop(0)
    text = ("Steps :math:`N\\eta`, see :func:`~lazyrich.sims.sweep` and ``x``. Example::\n\n"
            "    f(x)\n\n.. math::\n    a = b\n\n    c\n\nafter")
    assert rst_to_markdown(text) == (
        "Steps $N\\eta$, see `lazyrich.sims.sweep` and `x`. Example:\n\n    f(x)\n\n\n$$\n"
        "a = b\n\nc\n$$\n\nafter")
