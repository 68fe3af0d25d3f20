"""The import graph of lazyrich has one direction:
theory → sims → metrics → geometry → analysis → claims.

`verify` is the framework the claims are written with (claims import it; it imports
`lazyrich.claims` only to load them); `_checks` and `_precision` are shared helpers below
everything. A module may import its own package and any lower layer, never a higher one.
"""

import ast
import pathlib

import lazyrich

ROOT = pathlib.Path(lazyrich.__file__).parent
LAYER = {"_checks": 0, "_precision": 0, "theory": 1, "sims": 2, "metrics": 3, "geometry": 4,
         "analysis": 5, "claims": 6}
# Upward imports allowed by name, each with its reason and when it goes.
# metrics/__init__.py forwards the capacity names that moved to geometry (deprecated aliases,
# PEP 562 __getattr__, imported only when an old name is accessed); remove with the aliases.
ALLOWED_UPWARD = {("metrics/__init__.py", "geometry")}


def _imported_packages(path: pathlib.Path):
    """(line, subpackage) for every import of a lazyrich subpackage in ``path``, absolute or
    relative (``from ..geometry import x`` in ``lazyrich/metrics/_m.py`` is ``geometry``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = max(i for i, part in enumerate(path.parts) if part == "lazyrich")
    here = path.parts[top:-1]  # the module's package, e.g. ("lazyrich", "metrics")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                parts = a.name.split(".")
                if parts[0] == "lazyrich" and len(parts) > 1:
                    yield node.lineno, parts[1]
        elif isinstance(node, ast.ImportFrom):
            base = list(here[:len(here) - node.level + 1]) if node.level else []
            parts = base + (node.module.split(".") if node.module else [])
            if parts[0] != "lazyrich":
                continue
            if len(parts) > 1:
                yield node.lineno, parts[1]
            else:  # from lazyrich import sims, theory
                for a in node.names:
                    yield node.lineno, a.name


def test_imports_point_down_the_layers():
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2:  # lazyrich/__init__.py, cli.py: the top, may import anything
            continue
        pkg = rel.parts[0]
        for line, target in _imported_packages(path):
            if pkg == "verify":
                ok = target == "claims" or LAYER.get(target, 99) == 0 or target == "verify"
            elif target == "verify":
                ok = pkg == "claims"
            else:
                ok = (LAYER.get(target, 99) <= LAYER[pkg]
                      or (rel.as_posix(), target) in ALLOWED_UPWARD)
            if not ok:
                bad.append(f"{rel}:{line} imports lazyrich.{target}")
    assert not bad, "imports against the layering:\n" + "\n".join(bad)


def test_the_check_sees_a_violation(tmp_path, monkeypatch):
    """The scanner itself: a theory module importing sims is reported."""
    fake = tmp_path / "lazyrich" / "theory"
    fake.mkdir(parents=True)
    (fake / "_x.py").write_text("from lazyrich import sims\nimport lazyrich.claims.gamma\n"
                                "from ..geometry import x\nfrom .. import metrics\n"
                                "from ._y import z\n")
    found = list(_imported_packages(fake / "_x.py"))
    assert found == [(1, "sims"), (2, "claims"), (3, "geometry"), (4, "metrics"), (5, "theory")]
