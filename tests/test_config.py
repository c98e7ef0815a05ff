"""Library configuration: ISA selection from the environment, thread defaults, show_config()."""
import os
import subprocess
import sys

import numpy as np
import pytest

import pynn
from pynn import _C


def _run(code, **env):
    full_env = {k: v for k, v in os.environ.items() if k not in ("PYNN_ISA", "OMP_NUM_THREADS")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          cwd=os.path.dirname(__file__))


@pytest.mark.parametrize("isa", ["avx512", "avx2", "generic"])
def test_pynn_isa_environment_variable_forces_the_isa(isa):
    if isa not in _C.supported_isas():
        pytest.skip(f"this CPU cannot run {isa}")
    out = _run("import pynn; print(pynn._C.get_isa())", PYNN_ISA=isa)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == isa


def test_unknown_pynn_isa_fails_at_import_with_a_clear_message():
    out = _run("import pynn", PYNN_ISA="sse9")
    assert out.returncode != 0
    assert "PYNN_ISA" in out.stderr and "expected one of" in out.stderr


def test_default_isa_is_the_best_supported():
    out = _run("import pynn; print(pynn._C.get_isa())")
    assert out.stdout.strip() == _C.supported_isas()[0]


def test_omp_num_threads_sets_the_default():
    out = _run("import pynn; print(pynn.get_num_threads())", OMP_NUM_THREADS="3")
    assert out.stdout.strip() == "3"
    out = _run("import pynn, os; print(pynn.get_num_threads() == len(os.sched_getaffinity(0)))")
    assert out.stdout.strip() == "True"


def test_show_config_reports_version_isa_threads_openmp_cuda(capsys):
    pynn.show_config()
    text = capsys.readouterr().out
    assert f"pynn {pynn.__version__}" in text
    assert f"ISA in use:    {_C.get_isa()}" in text
    assert f"threads:       {pynn.get_num_threads()}" in text
    assert "OpenMP:" in text and "CUDA:" in text
    assert _C.build_info()["version"] == pynn.__version__


@pytest.mark.parametrize("env, expected", [({}, "10000"), ({"GOMP_SPINCOUNT": "123"}, "123"),
                                           ({"OMP_WAIT_POLICY": "active"}, None)])
def test_openmp_spin_default_is_set_before_the_runtime_loads(env, expected):
    """pynn caps GNU OpenMP's spin-wait (pynn/__init__.py) unless the user chose a wait policy."""
    clean = {k: v for k, v in os.environ.items() if k not in ("GOMP_SPINCOUNT", "OMP_WAIT_POLICY")}
    out = subprocess.run([sys.executable, "-c", "import os, pynn; print(os.environ.get('GOMP_SPINCOUNT'))"],
                         env={**clean, **env}, capture_output=True, text=True, check=True, cwd=os.path.dirname(__file__))
    assert out.stdout.strip() == str(expected)


def test_set_num_threads_caps_at_four_threads_per_usable_cpu(threads):
    """pynn.set_num_threads(100000) used to start 100000 OpenMP threads at the next kernel. Like
    torch.set_num_threads it still accepts more threads than cores, but above max_num_threads() (4 x the CPUs
    this process may use) it warns and uses that many."""
    most = pynn._config.max_num_threads()
    assert most == 4 * len(os.sched_getaffinity(0)) == _C.max_num_threads()
    with pytest.warns(RuntimeWarning, match=f"set_num_threads: n=100000 is more than {most} threads"):
        threads(100000)
    assert pynn.get_num_threads() == most
    threads(most)                                   # the cap itself is allowed, without a warning
    assert pynn.get_num_threads() == most
    threads(np.int64(2))                            # any integer type
    assert pynn.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -1, -(2 ** 70), True, False, 1.5, 2.0, "2", None, [2]])
def test_set_num_threads_rejects_what_is_not_a_positive_integer(bad, threads):
    threads(2)
    with pytest.raises(ValueError, match=r"set_num_threads: expected an integer >= 1, got"):
        pynn.set_num_threads(bad)
    assert pynn.get_num_threads() == 2


@pytest.mark.parametrize("bad", [0, -3, 10 ** 6])
def test_the_binding_refuses_thread_counts_out_of_range(bad):
    before = pynn.get_num_threads()
    with pytest.raises(ValueError, match=r"set_num_threads: n: expected an integer in \[1, "):
        _C.set_num_threads(bad)
    assert pynn.get_num_threads() == before


def test_a_huge_omp_num_threads_is_capped_with_a_warning():
    out = _run("import pynn; print(pynn.get_num_threads())",
               OMP_NUM_THREADS="100000")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(pynn._config.max_num_threads())
    assert "OMP_NUM_THREADS=100000 is more than" in out.stderr
