"""The capacity and geometry API moved from ``lazyrich.metrics`` to ``lazyrich.geometry``.

For one release every old name still resolves, to the very same object, with a
``DeprecationWarning`` that names the new location and points at the caller's line; nothing in
the toolkit, its notebooks or benchmarks uses the old path.
"""

import ast
import pathlib
import warnings

import numpy as np
import pytest

import lazyrich
import lazyrich.geometry
import lazyrich.metrics

# The public names ``lazyrich.metrics`` exported before the move (its __init__ at the parent
# commit), written out here as the contract rather than read back from the code under test.
MOVED = (
    "MeanFieldCapacity", "SolverAccuracyError", "mean_field_capacity", "SimulatedCapacity",
    "simulated_capacity", "balanced_probe", "convnet_features", "feature_probe",
    "geometry_over_sweep", "mlp_features", "model_features", "output_probe", "probe_hooks",
    "probe_manifolds", "weight_change", "cifar_capacity_sweep",
    "draw_dichotomies", "ChizatTwoLayer", "TwoLayerRun", "geometry_over_training",
    "train_two_layer", "as_manifolds", "gaussian_clouds",
    "manifolds_from_lab_list", "manifolds_from_labels", "point_manifolds", "sphere_manifolds",
    "box_qp_ipm", "exact_nnls", "nnls_cpu", "polish_nnls", "projection_residual",
)
REPO = pathlib.Path(lazyrich.__file__).parent.parent


@pytest.mark.parametrize("name", MOVED)
def test_old_name_warns_and_is_the_new_object(name):
    with pytest.warns(DeprecationWarning,
                      match=rf"lazyrich\.metrics\.{name} moved to lazyrich\.geometry\.{name}\b"
                      ) as rec:
        old = getattr(lazyrich.metrics, name)
    assert old is getattr(lazyrich.geometry, name)
    assert name in lazyrich.geometry.__all__
    # stacklevel: the warning names this file (the caller), not lazyrich/metrics/__init__.py
    assert pathlib.Path(rec[0].filename).resolve() == pathlib.Path(__file__).resolve()


def test_from_import_of_an_old_name_warns():
    """``from lazyrich.metrics import x`` goes through the same module __getattr__."""
    with pytest.warns(DeprecationWarning, match=r"lazyrich\.geometry\.mean_field_capacity"):
        from lazyrich.metrics import mean_field_capacity
    assert mean_field_capacity is lazyrich.geometry.mean_field_capacity


def test_names_that_stayed_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert callable(lazyrich.metrics.dlr) and callable(lazyrich.metrics.linear_cka)


def test_unknown_name_is_still_an_attribute_error():
    with pytest.raises(AttributeError, match=r"'lazyrich\.metrics' has no attribute 'nope'"):
        _ = lazyrich.metrics.nope


def test_geometry_all_matches_its_namespace():
    """``__all__`` lists exactly the public names the package defines, each importable."""
    public = {n for n in vars(lazyrich.geometry) if not n.startswith("_")}
    assert set(lazyrich.geometry.__all__) == public
    assert len(lazyrich.geometry.__all__) == len(set(lazyrich.geometry.__all__))


def _old_path_uses(path: pathlib.Path):
    """Lines of ``path`` that reach a moved name through ``lazyrich.metrics``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    metrics_aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "lazyrich.metrics":
            yield from (node.lineno for a in node.names if a.name in MOVED)
        elif isinstance(node, ast.ImportFrom) and node.module == "lazyrich":
            metrics_aliases |= {a.asname or a.name for a in node.names if a.name == "metrics"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in MOVED:
            v = node.value
            if isinstance(v, ast.Name) and v.id in metrics_aliases:
                yield node.lineno
            elif (isinstance(v, ast.Attribute) and v.attr == "metrics"
                  and isinstance(v.value, ast.Name) and v.value.id == "lazyrich"):
                yield node.lineno


def test_nothing_in_the_repository_uses_the_old_path():
    files = [p for d in ("lazyrich", "notebooks", "benchmarks") for p in (REPO / d).rglob("*.py")]
    assert len(files) > 20  # the scan really ran over the source tree
    bad = [f"{p.relative_to(REPO)}:{line}" for p in files for line in _old_path_uses(p)]
    assert not bad, "uses of deprecated lazyrich.metrics names:\n" + "\n".join(bad)


def test_the_old_path_scanner_sees_each_form(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("from lazyrich.metrics import dlr, point_manifolds\n"
                   "from lazyrich import metrics as m\n"
                   "m.mean_field_capacity\nm.dlr\nlazyrich.metrics.exact_nnls\n")
    assert sorted(_old_path_uses(src)) == [1, 3, 5]


@pytest.mark.parametrize("name", ["CifarModel", "cifar_model"])
def test_model_builders_moved_on_to_sims(name):
    """The CIFAR model builders live with the other models in lazyrich.sims; the old names in
    metrics (two moves ago) and geometry warn, naming sims, and return the same object."""
    import lazyrich.sims

    for pkg in (lazyrich.metrics, lazyrich.geometry):
        with pytest.warns(DeprecationWarning,
                          match=rf"{pkg.__name__}\.{name} moved to lazyrich\.sims\.{name}\b"):
            assert getattr(pkg, name) is getattr(lazyrich.sims, name)
        assert name not in pkg.__all__
    assert name in lazyrich.sims.__all__


def test_key_first_with_the_old_order_deprecated():
    """Functions that take a key take it first; the old order (key after the data) still gives
    the same result for one release, with a DeprecationWarning that names the new order; key=
    by keyword works either way, silently."""
    import jax

    import lazyrich.geometry as geo

    X = geo.sphere_manifolds(jax.random.key(0), 4, 3, 12, 2, 0.5)
    k = jax.random.key(1)
    new = geo.mean_field_capacity(k, X, n_t=20).capacity
    with pytest.warns(DeprecationWarning, match=r"mean_field_capacity\(key, \.\.\.\)"):
        old = geo.mean_field_capacity(X, k, n_t=20).capacity
    assert old == new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert geo.mean_field_capacity(X, key=k, n_t=20).capacity == new
        assert geo.mean_field_capacity(key=k, X=X, n_t=20).capacity == new
    raw = jax.random.PRNGKey(3)  # legacy uint32[2] keys are keys too
    with pytest.warns(DeprecationWarning):
        a = geo.balanced_probe(np.arange(12.0)[:, None], np.arange(12) % 3, 2, raw)
    b = geo.balanced_probe(raw, np.arange(12.0)[:, None], np.arange(12) % 3, 2)
    np.testing.assert_array_equal(a[0], b[0])


@pytest.mark.parametrize(("pkg", "name"), [("metrics", "plot_eigencurves"),
                                            ("metrics", "plot_dlr_trajectory"),
                                            ("metrics", "plot_geometry_over_training"),
                                            ("geometry", "plot_geometry_over_training")])
def test_figures_moved_to_analysis(pkg, name):
    """Plotting lives in one place, lazyrich.analysis; the old names warn and forward."""
    import importlib

    import lazyrich.analysis

    old = importlib.import_module(f"lazyrich.{pkg}")
    with pytest.warns(DeprecationWarning, match=rf"lazyrich\.{pkg}\.{name} moved to "
                                                rf"lazyrich\.analysis\.{name}\b"):
        assert getattr(old, name) is getattr(lazyrich.analysis, name)
    assert name in lazyrich.analysis.__all__ and name not in old.__all__
