"""The built wheel, as a user installs it: a fresh virtual environment with no compiler on PATH, used from
outside the source tree. Skipped unless PYNN_WHEEL names a wheel file (tools/build_wheel.sh makes one):

    PYNN_WHEEL=dist/pynn-0.1.0-cp311-cp311-manylinux_2_34_x86_64.whl pytest tests/test_wheel.py

The wheel goes in with --only-binary=:all: and its one required dependency, NumPy; the checks below then run
in that environment, each in a fresh interpreter. The last test adds scikit-learn, threadpoolctl and PyTorch
(the version this interpreter has, so the local wheel; skipped where it cannot be installed), which bring
OpenMP runtimes of their own.
"""
import importlib.metadata
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

WHEEL = os.environ.get("PYNN_WHEEL", "")
pytestmark = pytest.mark.skipif(not WHEEL, reason="set PYNN_WHEEL=/path/to/pynn-*.whl to test a built wheel")

COMPILERS = ("cc", "gcc", "g++", "c++", "clang", "clang++", "cmake")
INSTALL_TIMEOUT = 900
RUN_TIMEOUT = 300


class Env:
    """A virtual environment and the way to run its Python from a directory outside the source tree."""

    def __init__(self, root):
        self.root = root
        self.python = root / "venv" / "bin" / "python"
        self.cwd = root / "work"
        self.cwd.mkdir()
        # Only the venv's bin/ on PATH: no compiler, no pyenv shims; nothing of the source tree on sys.path.
        drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "CC", "CXX", "PYNN_ISA", "PYNN_DATA", "OMP_NUM_THREADS"}
        self.env = {k: v for k, v in os.environ.items() if k not in drop}
        self.env["PATH"] = str(self.python.parent)

    def run(self, code, timeout=RUN_TIMEOUT, **env):
        """Run code in the venv's Python; return its stdout, fail with its output on an error or a hang."""
        proc = subprocess.Popen([str(self.python), "-c", textwrap.dedent(code)], cwd=self.cwd,
                                env={**self.env, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"hung for {timeout} s\nstdout:\n{out}\nstderr:\n{err}")
        assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
        return out

    def pip_install(self, *args):
        return subprocess.run([str(self.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--only-binary=:all:", *args], cwd=self.cwd, env=self.env,
                              capture_output=True, text=True, timeout=INSTALL_TIMEOUT)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    wheel = Path(WHEEL).resolve()
    assert wheel.is_file(), f"PYNN_WHEEL={WHEEL}: no such file"
    env = Env(tmp_path_factory.mktemp("pynn-wheel"))
    subprocess.run([sys.executable, "-m", "venv", str(env.root / "venv")], check=True, timeout=INSTALL_TIMEOUT)
    for tool in COMPILERS:
        assert shutil.which(tool, path=env.env["PATH"]) is None, f"{tool} is on the test's PATH"
    done = env.pip_install(str(wheel))
    assert done.returncode == 0, f"pip install {wheel.name} failed:\n{done.stdout}\n{done.stderr}"
    return env


def test_the_only_required_dependency_is_numpy():
    with zipfile.ZipFile(WHEEL) as whl:
        meta = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        lines = whl.read(meta).decode().splitlines()
    required = [line.split(":", 1)[1].strip() for line in lines
                if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert [r.split(">")[0].split("=")[0].split(";")[0].strip() for r in required] == ["numpy"], required
    assert "Provides-Extra: test" in lines


def test_imports_from_the_venv_with_the_vendored_openmp(venv):
    out = venv.run("""
        import sys, pynn
        from pynn import _C
        print(pynn.__file__)
        print(_C.__file__)
        print(_C.openmp_library())
        pynn.show_config()
    """)
    pkg, ext, omp = out.splitlines()[:3]
    site = str(venv.root / "venv")
    assert pkg.startswith(site) and ext.startswith(site), out
    assert "/pynn.libs/libgomp-" in omp and omp.startswith(site), out
    assert f"runtime {omp}" in out, out


def test_every_isa_this_cpu_runs_is_inside(venv):
    out = venv.run("""
        import numpy as np, pynn
        from pynn import _C, kernels
        a = np.random.default_rng(0).standard_normal((97, 131)).astype(np.float32)
        for isa in _C.supported_isas():
            _C.set_isa(isa)
            assert np.allclose(kernels.matmul(a, a.T), a @ a.T, rtol=1e-4, atol=1e-4), isa
        print(" ".join(_C.supported_isas()))
    """)
    assert "generic" in out.split(), out


def test_a_tiny_model_trains(venv):
    out = venv.run("""
        import numpy as np, pynn
        from pynn import layers
        rng = np.random.default_rng(0)
        x = rng.standard_normal((600, 8)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int64")
        pynn.utils.set_random_seed(0)
        model = pynn.Sequential([layers.Input(shape=(8,)), layers.Dense(16, activation="relu"),
                                 layers.Dense(2, activation="softmax")])
        model.compile(optimizer=pynn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        hist = model.fit(x, y, batch_size=32, epochs=10, verbose=0).history
        print(hist["loss"][0], hist["loss"][-1], hist["accuracy"][-1])
    """)
    first, last, accuracy = map(float, out.split())
    assert last < 0.25 * first and accuracy > 0.95, out


def test_the_mnist_example_runs_on_the_bundled_sample(venv):
    """The README's first command, on the sample of digits that the wheel carries as package data."""
    out = venv.run("import runpy, sys; sys.argv = ['mnist_mlp', '--epochs', '1']; "
                   "runpy.run_module('pynn.examples.mnist_mlp', run_name='__main__')", PYNN_MNIST_SAMPLE="always")
    accuracy = float(out.split("Test accuracy:")[1].split()[0])
    assert accuracy > 0.8, out


def test_fork_after_a_parallel_kernel(venv):
    out = venv.run("""
        import multiprocessing as mp, os, signal
        import numpy as np, pynn
        from pynn import kernels
        pynn.set_num_threads(2)
        a = np.random.default_rng(1).standard_normal((300, 300)).astype(np.float32)
        ref = kernels.matmul(a, a)                       # the parent's team of 2 threads now exists
        pid = os.fork()
        if pid == 0:
            signal.alarm(60)                             # a hung child dies instead of hanging the test
            os._exit(0 if np.array_equal(kernels.matmul(a, a), ref) else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status

        def work(seed):
            b = np.random.default_rng(seed).standard_normal((200, 200)).astype(np.float32)
            return float(kernels.matmul(b, b).sum())
        with mp.get_context("fork").Pool(2) as pool:
            assert pool.map(work, [2, 3]) == [work(2), work(3)]
        print("fork ok")
    """)
    assert "fork ok" in out


PEERS_SCRIPT = """
    import numpy as np
    {first}
    {second}
    from pynn import _C, kernels
    import sklearn.cluster, torch
    from threadpoolctl import threadpool_info
    pynn.set_num_threads(2)
    a = np.random.default_rng(0).standard_normal((256, 256)).astype(np.float32)
    assert np.allclose(kernels.matmul(a, a), a @ a, rtol=1e-3, atol=1e-3)
    torch.set_num_threads(2)
    t = torch.from_numpy(a)
    assert np.allclose((t @ t).numpy(), a @ a, rtol=1e-3, atol=1e-3)
    sklearn.cluster.KMeans(3, n_init=2, random_state=0).fit(a)   # scikit-learn's OpenMP loops
    openmp = [i["filepath"] for i in threadpool_info() if i["internal_api"] == "openmp"]
    assert len(openmp) == len(set(openmp)), openmp
    print(_C.openmp_library())
    print("\\n".join(openmp))
"""


@pytest.mark.parametrize("order", ["pynn first", "torch first"])
def test_beside_numpy_sklearn_and_torch(venv, order):
    """Each package keeps its own OpenMP runtime, each loaded once (threadpoolctl lists each file once), and
    kernels of all three run in one process. Imported first, pynn's calls go to its vendored runtime; after
    torch (which loads its libgomp.so.1 with RTLD_GLOBAL) they bind to torch's, and show_config says so."""
    peers = ["scikit-learn", "threadpoolctl"]
    try:
        peers.append(f"torch=={importlib.metadata.version('torch')}")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("PyTorch is not installed here, so no wheel of it to install beside pynn")
    if venv.run("import importlib.util as u; print(all(u.find_spec(m) for m in ('sklearn', 'torch', "
                "'threadpoolctl')))").strip() != "True":
        done = venv.pip_install(*peers)
        if done.returncode != 0:
            pytest.skip(f"could not install {peers}: {done.stderr[-500:]}")
    first, second = ("import pynn", "import torch") if order == "pynn first" else ("import torch", "import pynn")
    out = venv.run(PEERS_SCRIPT.format(first=first, second=second)).splitlines()
    in_use, loaded = out[0], out[1:]
    assert in_use in loaded, out
    if order == "pynn first":
        assert "/pynn.libs/libgomp-" in in_use, out
    assert sum("/pynn.libs/libgomp-" in p for p in loaded) == 1, out
