"""Fork safety: a child made by fork() after pynn has run a parallel (OpenMP) kernel runs pynn's kernels too.

GNU OpenMP's pool threads do not survive fork(), and the child's first team of more than one thread waits for
them forever. pynn marks a forked child (a pthread_atfork handler, csrc/common/parallel.cpp) and runs every
kernel there on the calling thread; results never depend on the thread count, so they match the parent's bit
for bit. Each scenario runs in its own interpreter (subprocess) with a timeout, so that a hang fails the test
instead of hanging pytest; inside it the forked child gets a shorter timeout of its own and is killed on expiry.
"""
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import pynn

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

CHILD_TIMEOUT = 60     # seconds the forked child may take before the scenario calls it hung
SCENARIO_TIMEOUT = 150  # the whole subprocess: a backstop should the scenario itself hang

# Imported by every scenario. run_in_fork runs fn in a child made by multiprocessing's 'fork' context and
# returns its result; exit code 3 marks a hung child.
PRELUDE = textwrap.dedent(f"""
    import multiprocessing as mp, os, sys, warnings
    import numpy as np
    import pynn
    from pynn import kernels as ops, layers

    def _child(fn, conn):
        try:
            conn.send(("ok", fn()))
        except BaseException as exc:
            conn.send(("error", repr(exc)))

    def run_in_fork(fn):
        # (a Pipe polled with a timeout, not join(): a child blocks on exit until a big result is read)
        ctx = mp.get_context("fork")
        receiver, sender = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_child, args=(fn, sender))
        proc.start()
        sender.close()
        if not receiver.poll({CHILD_TIMEOUT}):
            proc.kill()
            print("forked child hung (no result in {CHILD_TIMEOUT} s)", file=sys.stderr)
            sys.exit(3)
        status, value = receiver.recv()
        proc.join({CHILD_TIMEOUT})
        assert status == "ok", value
        return value

    pynn.set_num_threads(2)  # a team of 2 threads in the parent, whatever the core count
    assert not pynn._C.in_forked_child()
""")


def _run_scenario(body):
    """Run PRELUDE + body in a fresh interpreter with the pynn under test; fail on a hang or a nonzero exit."""
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(pynn._C.__file__)))
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)
    env["PYTHONPATH"] = os.pathsep.join([pkg_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    code = PRELUDE + textwrap.dedent(body) + "\nprint('SCENARIO OK')\n"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=os.path.dirname(os.path.abspath(__file__)),
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=SCENARIO_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the scenario and any child it forked
        out, err = proc.communicate()
        pytest.fail(f"scenario hung for {SCENARIO_TIMEOUT} s\nstdout:\n{out}\nstderr:\n{err}")
    assert proc.returncode != 3, f"the forked child hung:\n{err}"
    assert proc.returncode == 0 and "SCENARIO OK" in out, f"exit {proc.returncode}\nstdout:\n{out}\nstderr:\n{err}"
    return out


def test_matmul_in_a_forked_child_after_a_parallel_matmul_matches_bit_for_bit():
    _run_scenario("""
        rng = np.random.default_rng(0)
        a = rng.standard_normal((600, 700), dtype=np.float32)
        b = rng.standard_normal((700, 500), dtype=np.float32)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        parent = (ops.matmul(a, b), ops.matmul(a64, b64))  # big enough for both threads

        def work():
            return (pynn.get_num_threads(), pynn._C.in_forked_child(), ops.matmul(a, b), ops.matmul(a64, b64))

        threads, forked, y32, y64 = run_in_fork(work)
        assert threads == 1 and forked, (threads, forked)  # get_num_threads tells what the child uses
        assert y32.tobytes() == parent[0].tobytes() and y64.tobytes() == parent[1].tobytes()
        # the parent keeps its team and its thread count
        assert pynn.get_num_threads() == 2 and not pynn._C.in_forked_child()
        assert ops.matmul(a, b).tobytes() == parent[0].tobytes()
    """)


def test_model_fit_in_a_forked_child_matches_the_parents_weights():
    """Conv2D (whose tiles call the GEMM from inside the region), pooling, Dense and Adam, trained in both."""
    _run_scenario("""
        rng = np.random.default_rng(1)
        x = rng.random((64, 16, 16, 3), dtype=np.float32)
        y = rng.integers(0, 10, 64)

        def train():
            pynn.utils.set_random_seed(7)
            model = pynn.Sequential([layers.Input(shape=(16, 16, 3)),
                                     layers.Conv2D(16, 3, padding="same", activation="relu"),
                                     layers.MaxPooling2D(2),
                                     layers.Flatten(),
                                     layers.Dense(64, activation="relu"),
                                     layers.Dense(10, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            model.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0)
            return [w.tobytes() for w in model.get_weights()]

        parent = train()
        assert run_in_fork(train) == parent
    """)


def test_set_num_threads_in_a_forked_child_warns_and_stays_serial():
    """More than one OpenMP thread cannot be used safely after fork: the child asks for 2, warns, and uses 1."""
    _run_scenario("""
        a = np.random.default_rng(2).random((512, 512), dtype=np.float32)
        parent = ops.matmul(a, a)

        def work():
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                pynn.set_num_threads(2)
                pynn.set_num_threads(1)  # (one thread asks for nothing unsafe: no warning)
                pynn.set_num_threads(2)
            messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
            return len(messages), "fork" in messages[0], pynn.get_num_threads(), ops.matmul(a, a)

        count, mentions_fork, threads, result = run_in_fork(work)
        assert count == 2 and mentions_fork and threads == 1
        assert result.tobytes() == parent.tobytes()
    """)


def test_grandchild_and_plain_os_fork():
    """A child forked by a forked child, and os.fork() without multiprocessing, are serial and correct too."""
    _run_scenario("""
        a = np.random.default_rng(3).random((512, 512), dtype=np.float32)
        parent = ops.matmul(a, a).tobytes()

        def grandchild():
            ops.matmul(a, a)  # the child runs a kernel before forking again
            return run_in_fork(lambda: (pynn.get_num_threads(), ops.matmul(a, a).tobytes()))

        assert run_in_fork(grandchild) == (1, parent)

        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # plain os.fork(): report through the pipe, never return into the scenario
            try:
                ok = pynn.get_num_threads() == 1 and ops.matmul(a, a).tobytes() == parent
                os.write(write_end, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write_end)
        import select
        ready, _, _ = select.select([read_end], [], [], {timeout})
        if not ready:
            os.kill(pid, 9)
            print("os.fork child hung", file=sys.stderr)
            sys.exit(3)
        assert os.read(read_end, 1) == b"1"
        os.waitpid(pid, 0)
    """.replace("{timeout}", str(CHILD_TIMEOUT)))


def test_a_process_that_imported_pynn_in_a_forked_child_uses_threads():
    """The serial rule is for children of a process that had pynn loaded: a forked child importing pynn for
    the first time (its parent never loaded libgomp through pynn) is a fresh process and keeps its threads."""
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(pynn._C.__file__)))
    code = textwrap.dedent(f"""
        import os, sys
        pid = os.fork()
        if pid == 0:
            ok = False
            try:
                sys.path.insert(0, {pkg_root!r})
                import pynn, numpy as np
                pynn.set_num_threads(2)
                a = np.random.default_rng(4).random((512, 512), dtype=np.float32)
                pynn.kernels.matmul(a, a)
                ok = pynn.get_num_threads() == 2 and not pynn._C.in_forked_child()
            finally:
                os._exit(0 if ok else 1)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.abspath(__file__)), timeout=SCENARIO_TIMEOUT)
    assert out.returncode == 0, out.stderr
