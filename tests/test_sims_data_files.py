"""Reading a data set, a results file or a report never runs code it was not asked to run.

CIFAR-10 python batches are pickles: a tampered batch must be refused before its payload runs;
archives are read in memory and hostile member names refused; results files are parsed as JSON
data and refused when their format is newer; claim text in the verify report is escaped.
"""

import io
import json
import os
import pickle
import re
import struct
import tarfile

import numpy as np
import pytest
import xarray as xr

from lazyrich.sims._data_files import (
    CifarUnpickler,
    load_cifar10,
    read_cifar_binary_batch,
    read_cifar_python_batch,
)
from lazyrich.sims._results import FORMAT, check_format, read_checked, write_atomic
from lazyrich.verify._claim import Claim, Outcome
from lazyrich.verify._report import write_report
from lazyrich.verify._runner import Result

NAMES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
N = 7  # images per generated batch (small: the format, not the size, is under test)


def _batches(rng):
    """Generated batches as the real files hold them: uint8 (N, 3072) rows of 1024 R, G, B
    bytes, python-int labels, and the extra keys batch_label / filenames."""
    return {n: (rng.integers(0, 256, (N, 3072)).astype(np.uint8),
                [int(v) for v in rng.integers(0, 10, N)]) for n in NAMES}


def _py_batch(x, labels, name="data_batch_1", protocol=pickle.DEFAULT_PROTOCOL):
    names = [f"img_{i}.png".encode() for i in range(len(x))]
    return pickle.dumps({b"batch_label": f"training batch of {name}".encode(), b"labels": labels,
                         b"data": x, b"filenames": names}, protocol=protocol)


class _Py2Pickler(pickle._Pickler):
    """Pickles bytes and str as Python 2 ``str`` (SHORT_BINSTRING/BINSTRING), as the CIFAR-10
    python files were written (numpy's dtype codes such as 'u1' included)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        n = len(raw)
        head = (pickle.SHORT_BINSTRING + bytes([n]) if n < 256
                else pickle.BINSTRING + struct.pack("<i", n))
        self.write(head + raw)
        self.memoize(obj)

    dispatch[bytes] = dispatch[str] = save_bytes


def _py2_batch(x, labels):
    f = io.BytesIO()
    _Py2Pickler(f, protocol=2).dump({b"batch_label": b"training batch 1 of 5", b"labels": labels,
                                     b"data": x, b"filenames": [b"a.png"] * len(x)})
    return f.getvalue().replace(b"numpy._core.", b"numpy.core.")  # numpy-1 module names


def _bin_batch(x, labels):
    return np.concatenate([np.asarray(labels, np.uint8)[:, None], x], axis=1).tobytes()


def _write_folder(root, batches, fmt="python"):
    root.mkdir(parents=True)
    for n, (x, y) in batches.items():
        if fmt == "python":
            (root / n).write_bytes(_py_batch(x, y, n))
        else:
            (root / f"{n}.bin").write_bytes(_bin_batch(x, y))


def _add(tf, name, data=b"", kind=tarfile.REGTYPE, link=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.linkname, ti.size = kind, link, len(data) if kind == tarfile.REGTYPE else 0
    tf.addfile(ti, io.BytesIO(data) if kind == tarfile.REGTYPE else None)


def _tree(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# ---------------------------------------------------------------------------------------------
# malicious pickles
# ---------------------------------------------------------------------------------------------

class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Open:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import builtins

        return (builtins.open, (self.marker, "w"))


class _Eval:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import builtins

        return (builtins.eval, (f"open({self.marker!r}, 'w')",))


@pytest.mark.parametrize("payload, where, refused", [
    (_System, "whole", r"(posix|os)\.system"),        # the batch itself is the payload
    (_Open, "labels", r"(io|builtins)\.open"),        # hidden inside a genuine-looking dict
    (_Eval, "data", r"builtins\.eval"),               # in place of the pixel array
], ids=["os.system-batch", "open-in-labels", "eval-as-data"])
def test_malicious_pickle_is_refused_before_its_payload_runs(tmp_path, rng, payload, where,
                                                             refused):
    marker = tmp_path / "PWNED"
    batches = _batches(rng)
    root = tmp_path / "cifar-10-batches-py"
    _write_folder(root, batches)
    x, y = batches["data_batch_1"]
    evil = payload(str(marker))
    obj = (evil if where == "whole" else
           {b"data": x, b"labels": evil} if where == "labels" else {b"data": evil, b"labels": y})
    (root / "data_batch_1").write_bytes(pickle.dumps(obj))
    with pytest.raises(ValueError, match=re.escape(str(root / "data_batch_1")) + r".*"
                       + refused + r".*never holds"):
        load_cifar10(str(tmp_path))
    assert not marker.exists()
    assert _tree(tmp_path) == sorted(["cifar-10-batches-py"] +
                                     [f"cifar-10-batches-py/{n}" for n in NAMES])


def test_sweep_on_a_tampered_cifar_folder_refuses_without_running_it(tmp_path, rng):
    """The path the issue reports: a sweep with task="cifar10" reading a colleague's folder."""
    from lazyrich import sims

    marker = tmp_path / "PWNED"
    root = tmp_path / "cifar-10-batches-py"
    _write_folder(root, _batches(rng))
    (root / "test_batch").write_bytes(pickle.dumps(_System(str(marker))))
    cfg = sims.SweepConfig(task="cifar10", task_options={"data_dir": str(tmp_path)}, width=8,
                           num_steps=2, batch_size=4, log_every=1, dtype="float64")
    with pytest.raises(ValueError, match=re.escape(str(root / "test_batch")) +
                       r"' refers to the global (posix|os)\.system"):
        sims.sweep(cfg, gamma=[1.0], eta=[0.01], seeds=[0], devices=1)
    assert not marker.exists()


def test_the_payload_would_run_under_plain_pickle(tmp_path):
    """Control for the test above: the payload is live (plain ``pickle.loads`` creates the
    file), so its absence there is the loader's doing."""
    marker = tmp_path / "PWNED"
    pickle.loads(pickle.dumps(_Open(str(marker)))).close()
    assert marker.exists()


@pytest.mark.parametrize("obj, match", [
    # object arrays can smuggle arbitrary objects through numpy's reconstructors
    ({b"data": np.zeros((2, 3072), object), b"labels": [0, 1]},
     r"dtype\('O'\).*only numeric arrays"),
    ({b"data": np.zeros((2, 3072), "U1"), b"labels": [0, 1]}, r"dtype\('<U1'\).*only numeric"),
    ({b"data": np.zeros((2, 3072), [("a", "u1")]), b"labels": [0, 1]},
     r"dtype\('V1'\).*only numeric"),
    ({b"data": np.ma.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, r"numpy\.ma.*never holds"),
    ({b"data": np.zeros((2, 3072), np.int64), b"labels": [0, 1]},
     r"data must be a uint8 array of shape \(N, 3072\), got int64 \(2, 3072\)"),
    ({b"data": np.zeros((2, 3071), np.uint8), b"labels": [0, 1]},
     r"data must be a uint8 array of shape \(N, 3072\), got uint8 \(2, 3071\)"),
    ({b"data": np.zeros((0, 3072), np.uint8), b"labels": []}, r"N >= 1 images, got 0"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]},
     r"labels must lie in \[0, 9\], got 10 at index 1"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, -1]},
     r"labels must lie in \[0, 9\], got -1"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]},
     r"2 images but 1 labels; expected one label per image"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1.5]},
     r"labels must be ints in \[0, 9\], got 1.5"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [True, 1]},
     r"labels must be ints in \[0, 9\], got True"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, r"expected a dict with keys b'data' and b'labels'"),
    ([np.zeros((2, 3072), np.uint8)], r"expected a dict with keys b'data' and b'labels'"),
], ids=["object-dtype", "str-dtype", "structured-dtype", "masked-array", "int64-pixels",
        "3071-pixels", "no-images", "label-10", "label-neg", "too-few-labels", "float-label",
        "bool-label", "no-labels-key", "not-a-dict"])
def test_bad_python_batch_is_refused_naming_the_file(obj, match):
    with pytest.raises(ValueError, match=r"CIFAR-10 file 'src/data_batch_1'.*" + match):
        read_cifar_python_batch(pickle.dumps(obj), "src/data_batch_1")


def test_garbled_pickle_is_a_clear_error():
    blob = _py_batch(np.zeros((2, 3072), np.uint8), [0, 1])
    with pytest.raises(ValueError, match=r"'f' could not be read as a CIFAR-10 pickle"):
        read_cifar_python_batch(blob[: len(blob) // 2], "f")


class _Rot13:
    def __reduce__(self):
        import _codecs

        return (_codecs.encode, ("a", "rot13"))


def test_unpickler_refuses_codecs_other_than_latin1():
    """``_codecs.encode`` is admitted for protocol-2 bytes only with latin1; another codec
    name is refused (it would make the codec registry import a module by name)."""
    blob = pickle.dumps(_Rot13())
    with pytest.raises(ValueError, match=r"'f' calls _codecs.encode with encoding 'rot13'; "
                                         r"only 'latin1'"):
        CifarUnpickler(io.BytesIO(blob), "f").load()


# ---------------------------------------------------------------------------------------------
# genuine batches, every distribution
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", [0, 2, 4, 5, "py2"])
def test_genuine_python_batch_loads_as_plain_pickle_would(rng, protocol):
    """The restricted reader returns exactly what ``pickle.loads`` + reshaping returned before,
    for the pickles Python 2 (numpy 1 names, bytes as str) and Python 3 write."""
    x, y = _batches(rng)["data_batch_1"]
    blob = _py2_batch(x, y) if protocol == "py2" else _py_batch(x, y, protocol=protocol)
    ref = pickle.loads(blob, encoding="bytes")  # the unrestricted reference (trusted bytes)
    xs, ys = read_cifar_python_batch(blob, "f")
    np.testing.assert_array_equal(xs, ref[b"data"].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ys, np.asarray(ref[b"labels"], np.int64))
    assert xs.dtype == np.uint8 and ys.dtype == np.int64
    # channel layout: pixel (0, 0) of image 0 is bytes 0 (R), 1024 (G), 2048 (B) of its row
    np.testing.assert_array_equal(xs[0, 0, 0], x[0, [0, 1024, 2048]])


def test_str_keys_and_numpy_labels_are_accepted(rng):
    x, y = _batches(rng)["test_batch"]
    blob = pickle.dumps({"data": x, "labels": np.asarray(y, np.int32)})
    np.testing.assert_array_equal(read_cifar_python_batch(blob, "f")[1], y)


@pytest.mark.parametrize("layout", ["py-folder", "bin-folder", "py-tar", "bin-tar", "bin-bare"])
def test_binary_and_python_distributions_give_the_same_arrays(tmp_path, rng, layout):
    batches = _batches(rng)
    fmt = "python" if layout.startswith("py") else "binary"
    sub = "cifar-10-batches-py" if fmt == "python" else "cifar-10-batches-bin"
    if layout.endswith("folder"):
        _write_folder(tmp_path / sub, batches, fmt)
        path = tmp_path
    elif layout == "bin-bare":  # the batches folder itself
        _write_folder(tmp_path / sub, batches, fmt)
        path = tmp_path / sub
    else:
        path = tmp_path / ("cifar-10-python.tar.gz" if fmt == "python"
                           else "cifar-10-binary.tar.gz")
        with tarfile.open(path, "w:gz") as tf:
            _add(tf, sub, kind=tarfile.DIRTYPE)
            for n, (x, y) in batches.items():
                if fmt == "python":
                    _add(tf, f"{sub}/{n}", _py_batch(x, y, n))
                else:
                    _add(tf, f"{sub}/{n}.bin", _bin_batch(x, y))
            _add(tf, f"{sub}/readme.html", b"<html></html>")
    before = _tree(tmp_path)
    xtr, ytr, xte, yte = load_cifar10(str(path))
    assert _tree(tmp_path) == before  # archives are read in memory, never extracted
    x_train = np.concatenate([batches[n][0] for n in NAMES[:5]])
    np.testing.assert_array_equal(xtr, x_train.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(ytr, np.concatenate([batches[n][1] for n in NAMES[:5]]))
    np.testing.assert_array_equal(
        xte, batches["test_batch"][0].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(yte, batches["test_batch"][1])
    assert xtr.shape == (5 * N, 32, 32, 3) and ytr.dtype == np.int64


@pytest.mark.parametrize("blob, match", [
    (b"", r"holds 0 bytes; a binary batch holds a positive multiple of 3073"),
    (bytes(3073 + 5), r"holds 3078 bytes; a binary batch holds a positive multiple of 3073"),
    (bytes([10]) + bytes(3072), r"labels must lie in \[0, 9\], got 10 at index 0"),
], ids=["empty", "partial-record", "label-10"])
def test_bad_binary_batch_is_refused_naming_the_file(blob, match):
    with pytest.raises(ValueError, match=r"CIFAR-10 file 'b/test_batch.bin'.*" + match):
        read_cifar_binary_batch(blob, "b/test_batch.bin")


# ---------------------------------------------------------------------------------------------
# hostile archives
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("member, kind, link, why", [
    ("../evil", tarfile.REGTYPE, "", r"has a '\.\.' component"),
    ("cifar-10-batches-py/../../evil", tarfile.REGTYPE, "", r"has a '\.\.' component"),
    ("/abs/evil", tarfile.REGTYPE, "", r"has an absolute path"),
    ("cifar-10-batches-py/test_batch", tarfile.SYMTYPE, "/etc/passwd",
     r"is a symbolic link \(to '/etc/passwd'\)"),
    ("evil", tarfile.LNKTYPE, "cifar-10-batches-py/data_batch_1",
     r"is a hard link \(to 'cifar-10-batches-py/data_batch_1'\)"),
    ("fifo", tarfile.FIFOTYPE, "", r"is not a regular file or directory"),
    ("dev", tarfile.CHRTYPE, "", r"is not a regular file or directory"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink", "hardlink", "fifo", "chardev"])
def test_hostile_archive_member_is_refused_and_nothing_written(tmp_path, rng, member, kind,
                                                               link, why):
    work = tmp_path / "work"
    work.mkdir()
    arc = work / "cifar-10-python.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        for n, (x, y) in _batches(rng).items():
            if not (kind == tarfile.SYMTYPE and member.endswith(n)):
                _add(tf, f"cifar-10-batches-py/{n}", _py_batch(x, y, n))
        _add(tf, member, b"payload" if kind == tarfile.REGTYPE else b"", kind, link)
    before = _tree(tmp_path)
    with pytest.raises(ValueError, match=rf"archive {re.escape(repr(str(arc)))}: member "
                       rf"{re.escape(repr(member))} {why}; a CIFAR-10 archive holds only regular "
                       rf"files and folders under relative paths"):
        load_cifar10(str(arc))
    assert _tree(tmp_path) == before and not (tmp_path / "evil").exists()


def test_archive_with_a_batch_twice_is_ambiguous(tmp_path, rng):
    arc = tmp_path / "a.tar"
    with tarfile.open(arc, "w") as tf:
        for n, (x, y) in _batches(rng).items():
            _add(tf, f"cifar-10-batches-py/{n}", _py_batch(x, y, n))
        _add(tf, "other/test_batch", _py_batch(*_batches(rng)["test_batch"]))
    with pytest.raises(ValueError, match=r"holds test_batch more than once"):
        load_cifar10(str(arc))


# ---------------------------------------------------------------------------------------------
# results files
# ---------------------------------------------------------------------------------------------

def _results_file(path, fmt_in_fingerprint, fmt_attr=None):
    """A results file as a (possibly newer) lazyrich would write it, written by xarray directly
    (not through this version's writer)."""
    attrs = {"lazyrich_fingerprint": json.dumps({"format": fmt_in_fingerprint, "config": {}},
                                                sort_keys=True),
             "config": "{}", "grid": "{}", "metrics": "[]"}
    if fmt_attr is not None:
        attrs["lazyrich_format"] = fmt_attr
    ds = xr.Dataset({"loss": (("cell", "step"), np.zeros((1, 2)))},
                    coords={"cell": [0], "step": [0, 1]}, attrs=attrs)
    ds.to_netcdf(path, engine="h5netcdf")
    return str(path)


@pytest.mark.parametrize("fp_fmt, attr_fmt, match", [
    ("lazyrich-sweep/2", "lazyrich-sweep/2",
     r"written in results format 'lazyrich-sweep/2', newer than this lazyrich reads "
     r"\(format 'lazyrich-sweep/1'\)"),
    ("lazyrich-sweep/17", None, r"results format 'lazyrich-sweep/17', newer .*'lazyrich-sweep/1'"),
    ("other-tool/1", None, r"unknown results format 'other-tool/1'; this lazyrich reads format "
                           r"'lazyrich-sweep/1'"),
    ("lazyrich-sweep/0", None, r"unknown results format 'lazyrich-sweep/0'"),
    ("lazyrich-sweep/1", "lazyrich-sweep/2",
     r"states format 'lazyrich-sweep/2' but its fingerprint says 'lazyrich-sweep/1'"),
], ids=["v2", "v17-old-style", "foreign", "v0", "attr-vs-fingerprint"])
def test_results_file_of_unknown_or_newer_format_is_refused(tmp_path, fp_fmt, attr_fmt, match):
    path = _results_file(tmp_path / "r.nc", fp_fmt, attr_fmt)
    with pytest.raises(ValueError, match=re.escape(repr(path)) + r".*" + match):
        read_checked(path, None, what="shard file")


def test_current_results_files_stay_readable(tmp_path):
    """Files of the current format without the new attribute (written before it existed) and
    with it (written now) both read; the writer states the format explicitly."""
    old = _results_file(tmp_path / "old.nc", FORMAT)
    assert "lazyrich_format" not in read_checked(old).attrs
    ds = xr.open_dataset(old, engine="h5netcdf").load()
    write_atomic(ds, str(tmp_path / "new.nc"))
    assert "lazyrich_format" not in ds.attrs  # the caller's dataset is not modified
    assert read_checked(str(tmp_path / "new.nc")).attrs["lazyrich_format"] == FORMAT


@pytest.mark.parametrize("attrs, match", [
    ({"lazyrich_fingerprint": "__import__('os').system('true')"},
     r"attribute 'lazyrich_fingerprint' must be JSON text"),
    ({"lazyrich_fingerprint": json.dumps({"format": FORMAT}), "grid": "{'gamma': [1]}"},
     r"attribute 'grid' must be JSON text"),
], ids=["python-expression", "python-dict-repr"])
def test_results_attributes_are_json_data_only(attrs, match):
    with pytest.raises(ValueError, match=r"results file 'r.nc': " + match):
        check_format(attrs, "r.nc")


# ---------------------------------------------------------------------------------------------
# the verify report
# ---------------------------------------------------------------------------------------------

def test_report_shows_claim_text_as_text(tmp_path):
    bad = "<script>alert(1)</script>"
    name = "zz-test/<img src=x onerror=alert(2)>"
    c = Claim(name, f"y {bad} & z", f"m {bad}", f"w {bad}", f"s {bad}", "cpu", lambda q: None)
    o = Outcome(f"p {bad}", 1.0, 2.0, False, details={f"k {bad}": f"v {bad} | x"})
    results = [Result(c, "fail", 0.1, o), Result(c, "error", 0.1, error=f"E: {bad} `tick`")]
    write_report(results, str(tmp_path))
    page = (tmp_path / "index.html").read_text()
    # no markup from claim text survives; every field shows as escaped text
    assert "<script" not in page and "<img src=x" not in page
    esc = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for text in (f"y {esc} &amp; z", f"m {esc}", f"w {esc}", f"s {esc}", f"p {esc}",
                 f"k {esc}", f"v {esc} | x", f"E: {esc} `tick`",
                 "zz-test/&lt;img src=x onerror=alert(2)&gt;"):
        assert text in page, text
    md = (tmp_path / "index.md").read_text()
    # Markdown: prose as entities, table cells with | escaped, the error in a code span
    for text in (f"**Claim.** y {esc} &amp; z", f"| k {esc} | v {esc} \\| x |",
                 f"— `` E: {bad} `tick` ``"):
        assert text in md, text
    outside_code = re.sub(r"`` .*? ``", "", md)
    assert "<script" not in outside_code and "<img src=x" not in outside_code
