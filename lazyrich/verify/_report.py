"""The ``--report DIR`` output: Markdown and HTML, one figure per claim."""

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
    md = ["# lazyrich verify report", "", f"{n_ok} passed, {n_bad} failed, "
          f"{len(results) - n_ok - n_bad} skipped.", "",
          "| claim | predicted | measured | tolerance | status | s |", "|---|---|---|---|---|---|"]
    for r in results:
        o = r.outcome
        md.append(f"| [{r.claim.name}](#{_slug(r.claim.name)}) | "
                  f"{_fmt(o.predicted) if o else '-'} | "
                  f"{_fmt(o.measured) if o else '-'} | {_fmt(o.tolerance) if o else '-'} | "
                  f"{r.status} | {r.seconds:.1f} |")
    for r in results:
        c = r.claim
        md += ["", f"## {c.name}", f'<a id="{_slug(c.name)}"></a>', "",
               f"**Claim.** {c.statement}", "", f"**Measured.** {c.measure}", "",
               f"**Tolerance.** {c.why}", ""]
        if c.spec:
            md += [f"**Spec.** {c.spec}", ""]
        md.append(f"**Status:** {r.status}" + (f" — `{r.error}`" if r.error else ""))
        if r.outcome and r.outcome.details:
            md += ["", "| detail | value |", "|---|---|"]
            md += [f"| {k} | {_fmt(v) if not isinstance(v, str) else v} |"
                   for k, v in r.outcome.details.items()]
        if c.name in figures:
            md += ["", f"![{c.name}]({figures[c.name]})"]
    md_path = os.path.join(directory, "index.md")
    with open(md_path, "w") as f:
        f.write("\n".join(md) + "\n")

    esc = html.escape
    rows = "".join(
        f"<tr class='{r.status}'><td><a href='#{_slug(r.claim.name)}'>{esc(r.claim.name)}</a></td>"
        f"<td>{esc(_fmt(r.outcome.predicted) if r.outcome else '-')}</td>"
        f"<td>{esc(_fmt(r.outcome.measured) if r.outcome else '-')}</td>"
        f"<td>{esc(_fmt(r.outcome.tolerance) if r.outcome else '-')}</td>"
        f"<td>{r.status}</td><td>{r.seconds:.1f}</td></tr>" for r in results)
    sections = "".join(
        f"<h2 id='{_slug(r.claim.name)}'>{esc(r.claim.name)}</h2>"
        f"<p><b>Claim.</b> {esc(r.claim.statement)}</p>"
        f"<p><b>Measured.</b> {esc(r.claim.measure)}</p>"
        f"<p><b>Tolerance.</b> {esc(r.claim.why)}</p><p><b>Spec.</b> {esc(r.claim.spec)}</p>"
        f"<p><b>Status:</b> {r.status} {esc(r.error)}</p>"
        + (f"<img src='{figures[r.claim.name]}' alt='{esc(r.claim.name)}'>"
           if r.claim.name in figures else "")
        for r in results)
    page = ("<!doctype html><meta charset='utf-8'><title>lazyrich verify</title><style>"
            "body{font-family:sans-serif;max-width:60em;margin:auto}td,th{padding:2px 8px}"
            ".fail,.error{background:#fdd}.pass{background:#efe}</style>"
            f"<h1>lazyrich verify report</h1><p>{n_ok} passed, {n_bad} failed.</p>"
            "<table><tr><th>claim</th><th>predicted</th><th>measured</th><th>tolerance</th>"
            f"<th>status</th><th>s</th></tr>{rows}</table>{sections}")
    with open(os.path.join(directory, "index.html"), "w") as f:
        f.write(page)
    return md_path
