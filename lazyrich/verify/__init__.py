"""The registry of numerical claims and the machinery behind ``lazyrich verify``.

Register a claim in any module named ``_claims*`` under ``lazyrich``::

    from lazyrich.verify import Outcome, claim

    @claim("linear/C2-balance-conserved", statement=..., measure=..., why=..., spec=...)
    def _(quick: bool) -> Outcome:
        ...
        return Outcome.error_below(err, 1e-9)
"""

from ._claim import Claim as Claim
from ._claim import Outcome as Outcome
from ._claim import Plot as Plot
from ._claim import Series as Series
from ._claim import claim as claim
from ._claim import load_claims as load_claims
from ._claim import select as select
from ._report import render_plot as render_plot
from ._report import write_report as write_report
from ._runner import Result as Result
from ._runner import format_table as format_table
from ._runner import run_claims as run_claims
from ._runner import to_json as to_json


def run(patterns=(), *, quick: bool = True, progress: bool = False, skip_gpu: bool = True):
    """Run the claims matching ``patterns`` and return their :class:`Result` list."""
    return run_claims(select(load_claims(), patterns), quick=quick, progress=progress,
                      skip_gpu=skip_gpu)


__all__ = ["Claim", "Outcome", "Plot", "Series", "claim", "load_claims", "select",
           "render_plot", "write_report", "Result", "format_table", "run_claims", "to_json", "run"]
