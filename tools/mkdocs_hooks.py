"""MkDocs hooks: pages made at build time from the repository itself.

* ``claims.md``: the table of every registered ``lazyrich verify`` claim (statement, how it is
  measured, why the tolerance), generated from the registry so it cannot go stale;
* the notebooks of ``notebooks/`` (jupytext percent scripts), executed by mkdocs-jupyter;
* MathJax, copied from the ``sphinx-mathjax-offline`` package: the site needs no network.

``LAZYRICH_DOCS_EXECUTE=name,name`` executes only those notebooks (the others are shown without
outputs): the test suite builds the site with one, since it runs every notebook itself.
"""

import importlib.metadata
import os
import pathlib
import shutil

from mkdocs.plugins import event_priority
from mkdocs.structure.files import File

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _cell(text) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def claims_page() -> str:
    from lazyrich.verify import load_claims

    claims = load_claims()
    areas = sorted({name.split("/")[0] for name in claims})
    out = ["# Claims", "",
           "Every claim `lazyrich verify` checks: what is predicted, how it is measured and why "
           "the tolerance is what it is. `lazyrich verify --quick --report report/` runs the "
           "CPU-sized versions and writes a report with one figure per claim; "
           "`lazyrich verify kernels/` selects an area. This page is generated from the "
           f"registry ({len(claims)} claims).", ""]
    for area in areas:
        out += [f"## {area}/", "",
                "| claim | tier | statement | measured | tolerance, why | source |",
                "|---|---|---|---|---|---|"]
        for name, c in claims.items():
            if name.split("/")[0] == area:
                out.append(f"| `{name}` | {c.tier} | {_cell(c.statement)} | {_cell(c.measure)} "
                           f"| {_cell(c.why)} | {_cell(c.source)} |")
        out.append("")
    return "\n".join(out)


def on_config(config):
    only = os.environ.get("LAZYRICH_DOCS_EXECUTE")
    if only:
        keep = {name.strip() for name in only.split(",")}
        skip = [f"*/notebooks/{nb.name}" for nb in sorted((ROOT / "notebooks").glob("*.py"))
                if nb.stem not in keep]
        config.plugins["mkdocs-jupyter"].config["execute_ignore"] = skip
    return config


@event_priority(100)  # before mkdocs-jupyter looks for notebooks
def on_files(files, config):
    files.append(File.generated(config, "claims.md", content=claims_page()))
    for nb in sorted((ROOT / "notebooks").glob("*.py")):
        files.append(File(f"notebooks/{nb.name}", str(ROOT), config["site_dir"],
                          config["use_directory_urls"]))
    return files


def on_post_build(config):
    dist = importlib.metadata.files("sphinx-mathjax-offline") or []
    src = next((f.locate() for f in dist if str(f).endswith("mathjax/tex-svg-full.js")), None)
    if src is None:
        raise RuntimeError("MathJax not found: pip install sphinx-mathjax-offline (the docs extra)")
    dest = pathlib.Path(config["site_dir"]) / "assets" / "mathjax"
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest / "tex-svg-full.js")
