"""Corrupted-file sweep over every format pynn reads: pynn's `.keras` (load_model and load_weights),
`.weights.npz`, `.weights.h5` (with h5py) and Keras 3's `.keras` files (the fixtures in tests/data/keras).

Each case damages a good file (flipped bytes, truncation, a zip member rewritten with valid CRCs so that the
parsers see the damage, hand-edited JSON fields, `.npy` headers declaring other shapes or dtypes) and loads
it. A case passes when loading succeeds or raises ValueError naming the file; any other exception, or a
load_weights failure that changed the model's weights, fails the test. Seeded, so every run makes the same
cases; PYNN_FUZZ_LONG=1 makes 10 times as many.
"""
import io
import json
import os
import random
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pynn
from pynn import layers

SCALE = 10 if os.environ.get("PYNN_FUZZ_LONG") == "1" else 1
KERAS_DATA = Path(__file__).parent / "data" / "keras"


def small_model(named=True):
    """The model the files hold; named=False gives its layers automatic names, which differ from the file's
    (dense_7, ...), so that load_weights matches them by position."""
    names = ["dense", "dropout", "batch_normalization", "dense_1"] if named else [None] * 4
    model = pynn.Sequential([layers.Input(shape=(4,)), layers.Dense(5, activation="relu", name=names[0]),
                             layers.Dropout(0.2, seed=1, name=names[1]), layers.BatchNormalization(name=names[2]),
                             layers.Dense(2, name=names[3])])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    return model


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """{suffix: bytes of a good file} for pynn's own formats."""
    pynn.utils.set_random_seed(0)
    model = small_model()
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    model.fit(x, x[:, :2], epochs=1, batch_size=8, verbose=0)
    folder = tmp_path_factory.mktemp("originals")
    files = {".keras": folder / "m.keras", ".weights.npz": folder / "m.weights.npz"}
    model.save(files[".keras"])
    model.save_weights(files[".weights.npz"])
    try:
        import h5py  # noqa: F401
        files[".weights.h5"] = folder / "m.weights.h5"
        model.save_weights(files[".weights.h5"])
    except ImportError:
        pass
    return {suffix: path.read_bytes() for suffix, path in files.items()}


# ---------------------------------------------------------------------------------------------- the check
def check_load_model(path):
    try:
        pynn.models.load_model(path)
    except ValueError as error:
        assert path.name in str(error), f"the error does not name the file: {error}"


def check_load_weights(path, model):
    before = model.get_weights()
    try:
        model.load_weights(path)
    except ValueError as error:
        assert path.name in str(error), f"the error does not name the file: {error}"
        for old, new in zip(before, model.get_weights()):  # a failed load changes nothing
            np.testing.assert_array_equal(old, new)


def run_cases(tmp_path, suffix, cases, loaders):
    """Write each (description, bytes) case to a file and load it with every loader."""
    path = tmp_path / f"case{suffix}"
    for description, data in cases:
        path.write_bytes(data)
        for load in loaders:
            try:
                load(path)
            except Exception as error:
                raise AssertionError(f"{description}: {type(error).__name__}: {error}") from error


# ---------------------------------------------------------------------------------------------- damage
def byte_cases(rng, data, count):
    """Single and multiple byte flips, truncations and zeroed ranges at seeded positions."""
    for _ in range(count):
        raw = bytearray(data)
        kind = rng.choice(["flip", "flips", "truncate", "zeros"])
        position = rng.randrange(len(raw))
        if kind == "flip":
            raw[position] ^= rng.randrange(1, 256)
        elif kind == "flips":
            for _ in range(rng.randrange(2, 16)):
                raw[rng.randrange(len(raw))] ^= rng.randrange(1, 256)
        elif kind == "truncate":
            del raw[position:]
        else:
            end = position + rng.randrange(1, 64)
            raw[position:end] = bytes(len(raw[position:end]))
        yield f"{kind} at {position}", bytes(raw)


def rezip(data, replace, compression=zipfile.ZIP_STORED):
    """The zip `data` with some members' bytes replaced (None drops the member); CRCs stay valid."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as a, zipfile.ZipFile(out, "w", compression) as b:
        for name in a.namelist():
            content = replace.get(name, a.read(name))
            if content is not None:
                b.writestr(name, content)
    return out.getvalue()


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_header(shape, descr="<f4", fortran=False, payload=b"\0" * 16):
    """A .npy file whose header declares `shape` whatever the data that follows."""
    header = repr({"descr": descr, "fortran_order": fortran, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + payload


def hostile_arrays(rng, original):
    """Arrays and .npy bytes that a loader must refuse or read correctly."""
    shape = original.shape
    return [npy(np.zeros(shape + (2,), np.float32)), npy(np.zeros(shape[::-1] + (1,), np.float32)),
            npy(np.zeros(shape, np.complex64)), npy(np.full(shape, "ab")), npy(np.zeros(shape, bool)),
            npy(np.zeros(shape, ">f8")), npy(np.asfortranarray(np.zeros(shape, np.float32))),
            npy(np.array([{"a": 1}, None], dtype=object)), npy(np.zeros(shape, "V4")),
            npy(np.zeros(shape, "datetime64[s]")), npy(np.float32(1.5)), npy(np.int64(-5)),
            npy(np.array([3, 4], np.int64)), npy(np.zeros(shape, [("a", "<f4")])),
            npy_header((2 ** 40, 2 ** 20)), npy_header((-1,)), npy_header((3, 2 ** 62)),
            npy_header(shape, fortran=True, payload=b""), npy_header(shape, descr="|O"),
            npy_header(shape, descr="<U100000000"), npy(original)[:rng.randrange(len(npy(original)))], b""]


HOSTILE_VALUES = [-5, 0, 1, -1, 2 ** 40, 10 ** 30, 1.5, -1e308, float("nan"), "x", "", None, True, [], {}, [None],
                  [-1, 2], {"class_name": "Dense"}, {"class_name": "Sequential", "config": {"layers": "x"}},
                  "__DEEP__", "__HUGE__"]


def json_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from json_paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from json_paths(item, prefix + (i,))


def edit_json(rng, text):
    """The JSON text with one field replaced by a hostile value, deleted, or nested very deeply."""
    document = json.loads(text)
    path = rng.choice(list(json_paths(document)))
    if not path:
        return "[" * 100000 + "]" * 100000, "the whole document nested 100000 deep"
    *parents, last = path
    parent = document
    for key in parents:
        parent = parent[key]
    if isinstance(parent, dict) and rng.random() < 0.2:
        del parent[last]
        return json.dumps(document), f"deleted {path}"
    parent[last] = value = rng.choice(HOSTILE_VALUES)
    depth = rng.choice([50, 500, 5000])  # "__DEEP__": lists nested that deep; "__HUGE__": a 5000-digit integer
    text = json.dumps(document).replace('"__DEEP__"', "[" * depth + "]" * depth).replace('"__HUGE__"', "9" * 5000)
    return text, f"{path} = {value!r}"


def member_cases(rng, data, count):
    """Members of a zip rewritten: JSON fields edited, .npy members replaced, members dropped or cut."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for _ in range(count):
        name = rng.choice(sorted(members))
        content = members[name]
        if name.endswith(".json") and rng.random() < 0.8:
            content, what = edit_json(rng, content.decode())
        elif name.endswith(".npy") and rng.random() < 0.8:
            choices = hostile_arrays(rng, np.load(io.BytesIO(content), allow_pickle=False))
            index = rng.randrange(len(choices))
            content, what = choices[index], f"replaced by hostile array {index}"
        elif rng.random() < 0.3:
            content, what = None, "dropped"
        else:
            raw = bytearray(content)
            for _ in range(rng.randrange(1, 8)):
                raw[rng.randrange(len(raw))] ^= rng.randrange(1, 256)
            content, what = bytes(raw), "bytes flipped inside"
        yield f"{name}: {what}", rezip(data, {name: content})


# ---------------------------------------------------------------------------------------------- the sweeps
def test_pynn_keras_file(originals, tmp_path):
    rng = random.Random(1)
    data = originals[".keras"]
    named, unnamed = small_model(), small_model(named=False)
    loaders = [check_load_model, lambda path: check_load_weights(path, named),
               lambda path: check_load_weights(path, unnamed)]
    run_cases(tmp_path, ".keras", byte_cases(rng, data, 150 * SCALE), loaders)
    deflated = rezip(data, {}, zipfile.ZIP_DEFLATED)  # damaged compressed data: zlib's errors
    run_cases(tmp_path, ".keras", byte_cases(rng, deflated, 50 * SCALE), loaders)
    run_cases(tmp_path, ".keras", member_cases(rng, data, 400 * SCALE), loaders)


def test_weights_npz(originals, tmp_path):
    rng = random.Random(2)
    data = originals[".weights.npz"]
    named, unnamed = small_model(), small_model(named=False)
    loaders = [lambda path: check_load_weights(path, named), lambda path: check_load_weights(path, unnamed)]
    run_cases(tmp_path, ".weights.npz", byte_cases(rng, data, 300 * SCALE), loaders)
    run_cases(tmp_path, ".weights.npz", member_cases(rng, data, 300 * SCALE), loaders)


def h5_cases(rng, data, count):
    """Datasets of an HDF5 file replaced by other shapes or dtypes, by groups, or deleted."""
    h5py = pytest.importorskip("h5py")
    with h5py.File(io.BytesIO(data), "r") as h5:
        names = []
        h5.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
    for _ in range(count):
        name = rng.choice(names)
        buffer = io.BytesIO(data)
        with h5py.File(buffer, "r+") as h5:
            shape = h5[name].shape
            del h5[name]
            kind = rng.choice(["shape", "dtype", "group", "deleted", "scalar"])
            if kind == "shape":
                h5.create_dataset(name, data=np.zeros(shape + (2,), np.float32))
            elif kind == "dtype":
                h5.create_dataset(name, data=np.full(shape, rng.choice([b"ab", 1 + 2j, True, 7])))
            elif kind == "group":
                h5.create_group(name)
            elif kind == "scalar":
                h5.create_dataset(name, data=np.float64(3))
        yield f"{name}: {kind}", buffer.getvalue()


def test_weights_h5(originals, tmp_path):
    pytest.importorskip("h5py")
    rng = random.Random(3)
    data = originals[".weights.h5"]
    model = small_model()
    loaders = [lambda path: check_load_weights(path, model)]
    run_cases(tmp_path, ".weights.h5", byte_cases(rng, data, 300 * SCALE), loaders)
    run_cases(tmp_path, ".weights.h5", h5_cases(rng, data, 100 * SCALE), loaders)


@pytest.mark.skipif(not (KERAS_DATA / "dense_bn.keras").exists(), reason="no Keras fixtures")
def test_keras3_keras_file(tmp_path):
    pytest.importorskip("h5py")
    rng = random.Random(4)
    data = (KERAS_DATA / "dense_bn.keras").read_bytes()
    model = pynn.Sequential([layers.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                             layers.BatchNormalization(), layers.Dropout(0.5), layers.Dense(3, activation="softmax")])
    loaders = [check_load_model, lambda path: check_load_weights(path, model)]
    run_cases(tmp_path, ".keras", byte_cases(rng, data, 200 * SCALE), loaders)
    run_cases(tmp_path, ".keras", member_cases(rng, data, 100 * SCALE), loaders)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        inner = archive.read("model.weights.h5")
    cases = ((what, rezip(data, {"model.weights.h5": h5})) for what, h5 in h5_cases(rng, inner, 50 * SCALE))
    run_cases(tmp_path, ".keras", cases, loaders)
