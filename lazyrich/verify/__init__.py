"""The registry of numerical claims and the machinery behind ``lazyrich verify``.

The toolkit's claims live in :mod:`lazyrich.claims`. Register your own in a module of your own
package with the same decorator::

    # mypkg/claims.py
    from lazyrich.verify import Outcome, claim

    @claim("mine/balance-conserved", statement=..., measure=..., why=..., source=...)
    def _(quick: bool) -> Outcome:
        ...
        return Outcome.error_below(err, 1e-9)

and run them with ``lazyrich verify --module mypkg.claims`` (or
``lazyrich.verify.run(modules=["mypkg.claims"])``): the report, JSON and exit status treat them
like the toolkit's own.
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


def run(patterns=(), *, quick: bool = True, progress: bool = False, skip_gpu: bool = True,
        modules=(), jobs: int = 1):
    """Run the claims matching ``patterns`` (after importing ``modules``, see
    :func:`load_claims`) in ``jobs`` processes (:func:`run_claims`) and return their
    :class:`Result` list."""
    return run_claims(select(load_claims(modules), patterns), quick=quick, progress=progress,
                      skip_gpu=skip_gpu, jobs=jobs, modules=modules)


__all__ = ["Claim", "Outcome", "Plot", "Series", "claim", "load_claims", "select",
           "render_plot", "write_report", "Result", "format_table", "run_claims", "to_json", "run"]
