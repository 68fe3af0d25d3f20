"""The ``--report DIR`` output: Markdown and HTML, one figure per claim.

Claim text (name, statement, measure, why, details, errors) is outside input once researchers
register their own claims, so none of it reaches either file as markup: in HTML every string is
passed through :func:`html.escape` (quotes too, for attributes); in Markdown ``&``, ``<`` and
``>`` become entities (renderers pass raw HTML through, but show entities as the characters),
``|`` is escaped in table cells, ``[``/``]`` in link text, and error messages sit in code spans
whose backtick fence is longer than any backtick run they contain.
"""

import html
import os
import re
from collections.abc import Sequence

import numpy as np

from ._claim import Plot
from ._runner import Result, _fmt

_STYLE = {"theory": dict(ls="-", lw=1.8), "sim": dict(ls="none", marker="o", ms=4, mfc="none"),
          "reference": dict(ls="none", marker="x", ms=5)}


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")


def _md(text) -> str:
    """Outside text as Markdown prose: ``&``, ``<``, ``>`` as entities, so it cannot open raw
    HTML (entities render as the same characters, unlike code spans that would set prose and
    formulas in monospace)."""
    return html.escape(str(text), quote=False)


def _md_cell(text) -> str:
    """Outside text in a table cell: as :func:`_md`, on one line, ``|`` escaped."""
    return " ".join(_md(text).replace("|", "\\|").split())


def _md_link_text(text) -> str:
    """Outside text as link text or image alt text: brackets escaped as well."""
    return _md_cell(text).replace("[", "\\[").replace("]", "\\]")


def _md_code(text) -> str:
    """Outside text as an inline code span (shown literally, nothing interpreted): the fence is
    one backtick longer than the longest run of backticks in the text."""
    t = " ".join(str(text).split())
    fence = "`" * (max((len(r) for r in re.findall("`+", t)), default=0) + 1)
    pad = " " if t.startswith("`") or t.endswith("`") else ""
    return f"{fence}{pad}{t}{pad}{fence}"


def render_plot(plot: Plot, ax=None):
    """Draw a claim's :class:`Plot` (theory lines, simulation markers); returns the Axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(4.8, 3.4))
    for s in plot.series:
        ax.plot(s.x, s.y, label=s.label, **_STYLE[s.kind])
    ax.set_xscale(plot.xscale)
    ax.set_yscale(plot.yscale)
    ax.set_xlabel(plot.xlabel)
    ax.set_ylabel(plot.ylabel)
    if plot.title:
        ax.set_title(plot.title, fontsize=9)
    if plot.series:
        ax.legend(fontsize=7, frameon=False)
    return ax


def _as_float(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if np.isfinite(f) else None


def render_verdict(outcome, ax):
    """Fallback figure for a claim without a :class:`Plot`: the measured value against the
    tolerance (and the prediction, when numeric), on a log axis when all are positive."""
    vals = {"measured": _as_float(outcome.measured), "tolerance": _as_float(outcome.tolerance),
            "predicted": _as_float(outcome.predicted)}
    # zeros (an error claim's prediction, an exact result) cannot sit on a log axis: leave them out
    vals = {k: abs(v) for k, v in vals.items() if v is not None and v != 0}
    names = list(vals)
    colors = {"measured": "C0" if outcome.passed else "C3", "tolerance": "0.6", "predicted": "k"}
    ax.barh(names, [vals[n] for n in names], color=[colors[n] for n in names])
    if names:
        ax.set_xscale("log")
        ax.set_xlim(min(vals.values()) / 10, max(vals.values()) * 10)
    ax.set_xlabel("|value|")
    ax.set_title(f"{'PASS' if outcome.passed else 'FAIL'}: measured {_fmt(outcome.measured)}, "
                 f"tolerance {_fmt(outcome.tolerance)}", fontsize=9)
    return ax


def write_report(results: Sequence[Result], directory: str) -> str:
    """Write ``index.md``, ``index.html`` and ``figures/*.png``; return the Markdown path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig_dir = os.path.join(directory, "figures")
    os.makedirs(fig_dir, exist_ok=True)
    figures: dict[str, str] = {}
    for r in results:
        if r.outcome is not None:
            fig, ax = plt.subplots(figsize=(4.8, 3.4))
            if r.outcome.plot is not None:
                render_plot(r.outcome.plot, ax)
            else:
                fig.set_size_inches(4.8, 1.8)
                render_verdict(r.outcome, ax)
            fig.tight_layout()
            rel = f"figures/{_slug(r.claim.name)}.png"
            fig.savefig(os.path.join(directory, rel), dpi=110)
            plt.close(fig)
            figures[r.claim.name] = rel

    n_ok = sum(r.status == "pass" for r in results)
    n_bad = sum(r.status in ("fail", "error") for r in results)

    def value(o, field):
        return _fmt(getattr(o, field)) if o else "-"

    def detail(v):
        return v if isinstance(v, str) else _fmt(v)

    md = ["# lazyrich verify report", "", f"{n_ok} passed, {n_bad} failed, "
          f"{len(results) - n_ok - n_bad} skipped.", "",
          "| claim | reference | predicted | measured | tolerance | status | s |",
          "|---|---|---|---|---|---|---|"]
    for r in results:
        o = r.outcome
        md.append(f"| [{_md_link_text(r.claim.name)}](#{_slug(r.claim.name)}) | "
                  f"{_md_cell(r.claim.reference or '-')} | "
                  f"{_md_cell(value(o, 'predicted'))} | {_md_cell(value(o, 'measured'))} | "
                  f"{_md_cell(value(o, 'tolerance'))} | {_md_cell(r.status)} | "
                  f"{r.seconds:.1f} |")
    for r in results:
        c = r.claim
        md += ["", f"## {_md_cell(c.name)}", f'<a id="{_slug(c.name)}"></a>', "",
               f"**Claim.** {_md(c.statement)}", "", f"**Measured.** {_md(c.measure)}", "",
               f"**Reference.** {_md(c.reference or 'none given')}", "",
               f"**Tolerance.** {_md(c.why)}", ""]
        if c.source:
            md += [f"**Source.** {_md(c.source)}", ""]
        md.append(f"**Status:** {_md(r.status)}" + (f" — {_md_code(r.error)}" if r.error else ""))
        if r.outcome and r.outcome.details:
            md += ["", "| detail | value |", "|---|---|"]
            md += [f"| {_md_cell(k)} | {_md_cell(detail(v))} |"
                   for k, v in r.outcome.details.items()]
        if c.name in figures:
            md += ["", f"![{_md_link_text(c.name)}]({figures[c.name]})"]
    md_path = os.path.join(directory, "index.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md) + "\n")

    esc = html.escape  # quote=True: also safe inside attribute values

    def details_html(o):
        if not (o and o.details):
            return ""
        body = "".join(f"<tr><td>{esc(str(k))}</td><td>{esc(detail(v))}</td></tr>"
                       for k, v in o.details.items())
        return f"<table><tr><th>detail</th><th>value</th></tr>{body}</table>"

    rows = "".join(
        f"<tr class='{esc(r.status)}'><td><a href='#{esc(_slug(r.claim.name))}'>"
        f"{esc(r.claim.name)}</a></td>"
        f"<td>{esc(r.claim.reference or '-')}</td>"
        f"<td>{esc(value(r.outcome, 'predicted'))}</td>"
        f"<td>{esc(value(r.outcome, 'measured'))}</td>"
        f"<td>{esc(value(r.outcome, 'tolerance'))}</td>"
        f"<td>{esc(r.status)}</td><td>{r.seconds:.1f}</td></tr>" for r in results)
    sections = "".join(
        f"<h2 id='{esc(_slug(r.claim.name))}'>{esc(r.claim.name)}</h2>"
        f"<p><b>Claim.</b> {esc(r.claim.statement)}</p>"
        f"<p><b>Measured.</b> {esc(r.claim.measure)}</p>"
        f"<p><b>Reference.</b> {esc(r.claim.reference or 'none given')}</p>"
        f"<p><b>Tolerance.</b> {esc(r.claim.why)}</p><p><b>Source.</b> {esc(r.claim.source)}</p>"
        f"<p><b>Status:</b> {esc(r.status)} {esc(r.error)}</p>"
        + details_html(r.outcome)
        + (f"<img src='{esc(figures[r.claim.name])}' alt='{esc(r.claim.name)}'>"
           if r.claim.name in figures else "")
        for r in results)
    page = ("<!doctype html><meta charset='utf-8'><title>lazyrich verify</title><style>"
            "body{font-family:sans-serif;max-width:60em;margin:auto}td,th{padding:2px 8px}"
            ".fail,.error{background:#fdd}.pass{background:#efe}</style>"
            f"<h1>lazyrich verify report</h1><p>{n_ok} passed, {n_bad} failed.</p>"
            "<table><tr><th>claim</th><th>reference</th><th>predicted</th><th>measured</th><th>tolerance</th>"
            f"<th>status</th><th>s</th></tr>{rows}</table>{sections}")
    with open(os.path.join(directory, "index.html"), "w") as f:
        f.write(page)
    return md_path
