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
LAYER = {"_checks": 0, "_precision": 0, "_deprecation": 0, "theory": 1, "sims": 2, "metrics": 3,
         "geometry": 4, "analysis": 5, "claims": 6}
# Upward imports allowed by name, each with its reason and when it goes (none today: the
# deprecated aliases of metrics -> geometry and analysis -> metrics resolve their new home by
# name through lazyrich._deprecation, only when an old name is accessed).
ALLOWED_UPWARD: set[tuple[str, str]] = set()


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


# Cross-package uses of private modules still in the code (the restructuring paid them all). The
# test fails on any new one, and on an entry that no longer occurs (shrink the list).
PRIVATE_DEBT: set = set()  # an empty {} would be a dict


PACKAGES = ("theory", "sims", "metrics", "geometry", "analysis", "claims", "verify")


def _private_imports(path: pathlib.Path, owner: str | None):
    """Dotted names ``lazyrich.<pkg>._<module>`` imported by ``path`` from outside ``<pkg>``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from lazyrich.sims import _train" names the private module as an alias
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        if isinstance(node, ast.Attribute):  # lazyrich.sims._sweep.x or sims._sweep.x
            chain, v = [node.attr], node.value
            while isinstance(v, ast.Attribute):
                chain.append(v.attr)
                v = v.value
            if isinstance(v, ast.Name):
                chain.append(v.id)
            chain.reverse()
            if chain[0] == "lazyrich":
                chain = chain[1:]
            if (len(chain) > 1 and chain[0] in PACKAGES and chain[1].startswith("_")
                    and not chain[1].startswith("__") and chain[0] != owner):
                names.append(f"lazyrich.{chain[0]}.{chain[1]}")
        for name in names:
            parts = name.split(".")
            if (len(parts) > 2 and parts[0] == "lazyrich" and parts[2].startswith("_")
                    and parts[1] != owner):
                yield ".".join(parts[:3])


def test_no_new_cross_package_private_imports():
    repo = ROOT.parent
    found = set()
    for base in ("lazyrich", "notebooks", "benchmarks"):
        for path in sorted((repo / base).rglob("*.py")):
            rel = path.relative_to(repo)
            owner = rel.parts[1] if base == "lazyrich" and len(rel.parts) > 2 else None
            found |= {(rel.as_posix(), m) for m in _private_imports(path, owner)}
    assert found - PRIVATE_DEBT == set(), "new cross-package private imports"
    assert PRIVATE_DEBT - found == set(), "paid debts: remove them from PRIVATE_DEBT"


def test_every_subpackage_declares_its_public_names():
    """__all__ of each subpackage = exactly the names it re-exports (``name as name``)."""
    import importlib
    import re

    for pkg in ("theory", "sims", "metrics", "geometry", "analysis", "claims", "verify"):
        src = (ROOT / pkg / "__init__.py").read_text()
        exported = set(re.findall(r"^from \.\S* import (\w+) as \1$", src, flags=re.M))
        exported |= set(re.findall(r"^from \. import (\w+) as \1$", src, flags=re.M))
        mod = importlib.import_module(f"lazyrich.{pkg}")
        assert set(mod.__all__) >= exported, (pkg, exported - set(mod.__all__))
        assert all(hasattr(mod, n) for n in mod.__all__), pkg


def test_test_files_follow_the_package_layout():
    """Tests live in ``tests/test_<package>_<module>.py`` (the package they exercise first),
    except the project-wide checks listed here."""
    packages = ("theory", "sims", "metrics", "geometry", "analysis", "claims", "verify", "cli")
    project_wide = {"test_layering.py", "test_notebooks.py", "test_docs.py",
                    "test_benchmarks.py"}
    here = pathlib.Path(__file__).parent
    stray = [p.name for p in here.glob("test_*.py")
             if p.name not in project_wide and p.name.split("_")[1] not in packages]
    assert stray == []


def test_the_private_scan_sees_imports_and_attribute_chains(tmp_path):
    """A private module of another package is reported whether imported or reached as an
    attribute (``sims._sweep._parse_shard(...)``, ``lazyrich.metrics._hooks``); the owner's own
    private modules and dunders are not."""
    f = tmp_path / "m.py"
    f.write_text("from lazyrich import sims\nimport lazyrich\nfrom lazyrich.geometry._qp import a\n"
                 "sims._sweep._parse_shard('0/1')\nlazyrich.metrics._hooks.x\nsims.__name__\n"
                 "theory._exact.y\n")
    assert sorted(set(_private_imports(f, "theory"))) == [
        "lazyrich.geometry._qp", "lazyrich.metrics._hooks", "lazyrich.sims._sweep"]
