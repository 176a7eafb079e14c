"""Robustness: fork, Ctrl-C, extreme arguments (fuzzed), memory, the builds CI expects.

Each process-level scenario runs in a fresh interpreter with a timeout, so a
hang fails the test instead of the suite.
"""

import importlib.util
import os
import platform
import sys
import textwrap

import fuzzing
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import sepconv
from sepconv._native import _runtime

needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")

# The parent computes first (its OpenMP threads then exist), then a child made
# by fork computes the same; both print their sums.
FORK_PRELUDE = textwrap.dedent("""
    import os, sys, numpy as np, sepconv
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 64, 64, 16)).astype(np.float32)
    dk = rng.standard_normal((3, 3, 16, 1)).astype(np.float32)
    pk = rng.standard_normal((16, 16)).astype(np.float32)
    def conv(_=None):
        return float(sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=2).sum())
    parent = conv()
""")

FORK_VARIANTS = {
    "os.fork": """
        pid = os.fork()
        if pid == 0:
            print("child", conv(), flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
    """,
    "multiprocessing": """
        import multiprocessing as mp
        if __name__ == "__main__":
            with mp.get_context("fork").Pool(1) as pool:
                print("child", pool.apply_async(conv).get(timeout=60))
    """,
    "joblib": """
        from joblib import Parallel, delayed
        print("child", Parallel(n_jobs=2, backend="multiprocessing")(
            delayed(conv)(i) for i in range(2))[0])
    """,
    "ProcessPoolExecutor": """
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        if __name__ == "__main__":
            with ProcessPoolExecutor(1, mp_context=mp.get_context("fork")) as pool:
                print("child", pool.submit(conv).result(timeout=60))
    """,
}


def _assert_child_equals_parent(result):
    """The child's result (printed "child V") equals the parent's before and after ("parent V W")."""
    assert result.returncode == 0, result.stderr
    words = result.stdout.split()
    child = float(words[words.index("child") + 1])
    parent, again = (float(v) for v in words[words.index("parent") + 1 :][:2])
    assert child == parent == again


@needs_fork
@pytest.mark.parametrize("variant", sorted(FORK_VARIANTS))
def test_fork_child_computes_after_the_parent(run_python, variant):
    code = (
        FORK_PRELUDE
        + textwrap.dedent(FORK_VARIANTS[variant])
        + textwrap.dedent("""
        print("parent", parent, conv())
    """)
    )
    _assert_child_equals_parent(run_python("-c", code))


@needs_fork
def test_fork_child_computes_a_wide_layer_in_filter_slices(run_python):
    # the schedule with a barrier between its depthwise and pointwise loops,
    # and pointwise_conv2d's column slices
    from sepconv import functional

    assert functional._schedule(1, (19, 19), 728, 728, 4, 2, "channels_last")[2] > 0
    assert functional._pointwise_schedule(1, 361, 728, 728, 4, 2, "channels_last")[1] > 0
    code = (
        FORK_PRELUDE
        + textwrap.dedent("""
        x = rng.standard_normal((1, 19, 19, 728)).astype(np.float32)
        dk = rng.standard_normal((3, 3, 728, 1)).astype(np.float32)
        pk = rng.standard_normal((728, 728)).astype(np.float32)
        def conv(_=None):
            y = sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=2)
            return float(y.sum() + sepconv.pointwise_conv2d(x, pk, n_threads=2).sum())
        parent = conv()
    """)
        + textwrap.dedent(FORK_VARIANTS["os.fork"])
        + 'print("parent", parent, conv())\n'
    )
    _assert_child_equals_parent(run_python("-c", code))


@needs_fork
def test_fork_child_computes_while_a_parent_thread_holds_the_memory_pool(run_python):
    # another thread of the parent holds the reused-memory pool's lock at the
    # fork (every call takes it, for its output and scratch): the child has no
    # such thread, and must not wait for it
    code = (
        FORK_PRELUDE
        + textwrap.dedent("""
        import threading
        from sepconv._native import _buffers
        held, release = threading.Event(), threading.Event()
        def hold():
            with _buffers._lock:
                held.set()
                release.wait()
        holder = threading.Thread(target=hold)
        holder.start()
        held.wait()
    """)
        + textwrap.dedent(FORK_VARIANTS["os.fork"])
        + textwrap.dedent("""
        release.set()
        holder.join()
        print("parent", parent, conv())
    """)
    )
    _assert_child_equals_parent(run_python("-c", code))


@needs_fork
def test_fork_child_runs_on_a_fresh_thread_with_every_thread(run_python):
    # the forking thread hands its calls to a thread made in the child; the
    # parent's own calls stay where they are
    code = FORK_PRELUDE + textwrap.dedent("""
        from sepconv._native import _runner
        assert _runner._helper is None
        pid = os.fork()
        if pid == 0:
            value = conv()
            print("child", value, _runner._helper is not None, flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent", conv(), _runner._helper is None)
    """)
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["child"].split()[1] == "True"
    assert lines["parent"].split()[1] == "True"
    assert float(lines["child"].split()[0]) == float(lines["parent"].split()[0])


# A call of several seconds: a 63x63 window over 16 images of 128x128x32, float64.
LONG_CALL = textwrap.dedent("""
    import os, signal, sys, threading, time, numpy as np, sepconv
    # Python's Ctrl-C handler, also where the test runs in a background job
    # (started with & from a script), whose processes begin with SIGINT ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 128, 128, 32))
    dk = rng.standard_normal((63, 63, 32, 1))
    pk = rng.standard_normal((32, 8))
    def long_call():
        return sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=2)
    def interrupt_after(seconds, pid):
        sent = []
        def fire():
            sent.append(time.perf_counter())
            os.kill(pid, signal.SIGINT)
        threading.Timer(seconds, fire).start()
        return sent
""")

AFTER_INTERRUPT = textwrap.dedent("""
    # no kernel thread left running: the process takes no CPU time now
    cpu = time.process_time(); time.sleep(0.3); idle = time.process_time() - cpu
    small = x[:1, :40, :40]
    y = sepconv.separable_conv2d(small.astype(np.float32), dk[:3, :3], pk, padding="same")
    ref = sepconv.separable_conv2d(small, dk[:3, :3], pk, padding="same")
    print("latency", latency, "idle", idle, "next", float(np.abs(y - ref).max()))
""")


@pytest.mark.skipif(os.name != "posix", reason="SIGINT by os.kill")
def test_ctrl_c_interrupts_a_long_call(run_python):
    code = (
        LONG_CALL
        + textwrap.dedent("""
        sent = interrupt_after(0.5, os.getpid())
        start = time.perf_counter()
        try:
            long_call()
            print("not interrupted", time.perf_counter() - start)
            sys.exit(1)
        except KeyboardInterrupt:
            latency = time.perf_counter() - sent[0]
    """)
        + AFTER_INTERRUPT
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stdout + result.stderr
    words = result.stdout.split()
    values = dict(zip(words[::2], map(float, words[1::2]), strict=True))
    assert values["latency"] < 0.5
    assert values["idle"] < 0.05
    assert values["next"] < 1e-3


@needs_fork
def test_ctrl_c_in_a_forked_child_cancels_its_call(run_python):
    code = (
        LONG_CALL
        + textwrap.dedent("""
        sepconv.separable_conv2d(x[:1, :8, :8], dk[:3, :3], pk)  # the parent's threads
        pid = os.fork()
        if pid == 0:
            sent = interrupt_after(0.5, os.getpid())
            try:
                long_call()
                os._exit(1)
            except KeyboardInterrupt:
                latency = time.perf_counter() - sent[0]
    """)
        + textwrap.indent(AFTER_INTERRUPT, "        ")
        + textwrap.dedent("""
                sys.stdout.flush()
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        sys.exit(os.waitstatus_to_exitcode(status))
    """)
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stdout + result.stderr
    words = result.stdout.split()
    values = dict(zip(words[::2], map(float, words[1::2]), strict=True))
    assert values["latency"] < 0.5
    assert values["next"] < 1e-3


# --------------------------------------------------------------------------
# Extreme arguments


@pytest.mark.parametrize("dilation", [30000, 2**31 - 1, 2**40])
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_huge_dilation_on_a_tiny_image(dilation, layout):
    # only the centre tap reads the image: the result is x times that weight,
    # and the working memory does not grow with the padding
    x = np.full((1, 1, 1, 1), 3.0, np.float32)
    dk = np.arange(1, 10, dtype=np.float32).reshape(3, 3, 1, 1)
    before = _max_rss_kib()
    y = sepconv.depthwise_conv2d(x, dk, padding="same", dilation_rate=dilation, data_format=layout)
    assert y.shape == (1, 1, 1, 1) and float(y.ravel()[0]) == 15.0
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # shadow memory counts in RSS
        assert _max_rss_kib() - before < 50_000


def _max_rss_kib():
    """Return the process's peak resident memory in KiB (0 on Windows: no ``resource``)."""
    try:
        import resource
    except ImportError:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # macOS counts bytes


def test_huge_strides_and_kernels():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 6, 3))
    dk = rng.standard_normal((200, 1, 3, 1))
    pk = rng.standard_normal((3, 4))
    y = sepconv.separable_conv2d(x, dk, pk, padding="same", strides=2**40)
    d = fuzzing.direct_depthwise(x, dk, (2**40, 2**40), (1, 1), "same")
    np.testing.assert_allclose(y, d @ pk, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels", [16, 256])
def test_a_dilation_past_the_image_reads_only_padding(isa_level, channels):
    # "same" with a width dilation of 2**40: every tap of a column reads the
    # padding, the one kept right of the image (the fuzzer's wide calls found
    # the register kernels reading it as inside the image: a crash)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((3, 9, 9, channels))
    dk = rng.standard_normal((2, 200, channels, 1))
    pk = rng.standard_normal((channels, 1100))
    bias = rng.standard_normal(1100)
    geometry = {"strides": (7, 1), "dilation_rate": (7, 2**40), "padding": "same"}
    y = sepconv.separable_conv2d(x, dk, pk, bias, **geometry)
    d = fuzzing.direct_depthwise(x, dk, *geometry.values())
    assert not d.any()
    np.testing.assert_allclose(y, np.broadcast_to(bias, y.shape), rtol=0, atol=0)


@pytest.mark.parametrize("n_threads", [10**9, 2**31, 64])
def test_more_threads_than_anyone_has(n_threads):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 9, 9, 4))
    dk = rng.standard_normal((3, 3, 4, 2))
    pk = rng.standard_normal((8, 5))
    y = sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=n_threads)
    d = fuzzing.direct_depthwise(x, dk, (1, 1), (1, 1), "same")
    np.testing.assert_allclose(y, d @ pk, rtol=1e-12, atol=1e-12)


def test_gradients_needing_more_memory_than_addresses_raise_memory_error():
    # found by the gradient fuzz: the backward pass keeps the taps before the
    # first live one, so its scratch grows with the dilation (planes 2**40 a
    # side, whose product wrapped Py_ssize_t before: the UBSan build caught it)
    x = np.zeros((8, 16, 9, 8), np.float32)
    dk = np.zeros((7, 7, 16, 1), np.float32)
    step = {"strides": 2**31 - 1, "dilation_rate": 2**31 - 1}
    y = sepconv.depthwise_conv2d(x, dk, padding="same", data_format="channels_first", **step)
    with pytest.raises(MemoryError, match=r"Unable to allocate .* for an array with shape"):
        sepconv.depthwise_conv2d_grad(
            y, x, dk, padding="same", data_format="channels_first", **step
        )


def test_huge_shapes_raise_memory_error_with_what_was_asked():
    x = np.broadcast_to(np.float32(1), (1 << 20, 1 << 12, 1 << 8, 1))
    with pytest.raises(MemoryError, match="TiB"):
        sepconv.depthwise_conv2d(x, np.ones((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize(
    "storage", ["read-only", "misaligned", "fortran", "strided", "broadcast", "memmap"]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_storage_of_the_input(tmp_path, storage, dtype):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 11, 10, 12)).astype(dtype)
    dk = rng.standard_normal((3, 3, 12, 1)).astype(dtype)
    pk = rng.standard_normal((12, 5)).astype(dtype)
    given = fuzzing.stored(x, storage, tmp_path)
    assert given.flags.aligned == (storage != "misaligned")
    x = np.asarray(given, dtype=np.float64)
    y = sepconv.separable_conv2d(given, dk, pk, padding="same")
    want = fuzzing.direct_depthwise(x, dk.astype(np.float64), (1, 1), (1, 1), "same") @ pk
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(y, want, rtol=tolerance, atol=tolerance)


# Examples of the main fuzz test (the others run a third as many);
# SEPCONV_FUZZ_EXAMPLES sets another count for a longer run.
FUZZ_EXAMPLES = int(os.environ.get("SEPCONV_FUZZ_EXAMPLES", 300))


def _fuzz_settings(examples, *, tmp_path=True):
    """Hypothesis settings of a fuzz test: no deadline, slow examples allowed.

    ``tmp_path``: the test takes pytest's function-scoped ``tmp_path``
    fixture (shared by its examples, which write nothing they read back).
    """
    checks = [HealthCheck.too_slow]
    if tmp_path:
        checks.append(HealthCheck.function_scoped_fixture)
    return settings(max_examples=examples, deadline=None, suppress_health_check=checks)


@_fuzz_settings(FUZZ_EXAMPLES)
@given(call=fuzzing.calls())
def test_fuzz_every_entry_point(tmp_path, call):
    fuzzing.run(call, tmp_path)


@_fuzz_settings(FUZZ_EXAMPLES // 3)
@given(call=fuzzing.calls(wide=True))
def test_fuzz_wide_layers(tmp_path, call):
    fuzzing.run(call, tmp_path)


@_fuzz_settings(FUZZ_EXAMPLES // 3)
@given(call=fuzzing.calls())
def test_fuzz_every_gradient(tmp_path, call):
    fuzzing.run_grad(call, tmp_path)


@_fuzz_settings(FUZZ_EXAMPLES // 3, tmp_path=False)
@given(call=fuzzing.face_calls())
def test_fuzz_the_layer_and_the_transformer(call):
    fuzzing.run_face(call)


# --------------------------------------------------------------------------
# Memory


def _rss_kib():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_ten_thousand_calls_leave_rss_flat():
    rng = np.random.default_rng(6)
    shapes = [
        ((1, 8, 8, 3), 3, 1, 4),
        ((2, 16, 12, 8), 3, 2, 16),
        ((1, 33, 40, 16), 5, 1, 8),
        ((1, 64, 64, 16), 3, 1, 64),
        ((1, 7, 5, 1), 7, 3, 2),
    ]
    operands = [
        (
            rng.standard_normal(s).astype(np.float32),
            rng.standard_normal((k, k, s[3], m)).astype(np.float32),
            rng.standard_normal((s[3] * m, f)).astype(np.float32),
        )
        for s, k, m, f in shapes
    ]

    def calls(count):
        for i in range(count):
            x, dk, pk = operands[i % len(operands)]
            layout = "channels_first" if i % 3 == 0 else "channels_last"
            given = np.ascontiguousarray(np.moveaxis(x, 3, 1)) if i % 3 == 0 else x
            sepconv.separable_conv2d(
                given, dk, pk, padding="same", data_format=layout, n_threads=1 + i % 2
            )

    calls(1000)
    before = _rss_kib()
    calls(10_000)
    after = _rss_kib()
    print(f"RSS {before} KiB -> {after} KiB")
    assert after - before < 8 * 1024


# --------------------------------------------------------------------------
# The builds CI expects


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="what CI must have built")
def test_ci_has_openmp_and_the_x86_builds():
    assert _runtime.openmp_enabled(), "built without OpenMP"
    # MSVC builds the baseline only (see setup.py)
    if platform.machine().lower() in ("x86_64", "amd64") and sys.platform != "win32":
        for level in ("baseline", "avx2", "avx512"):
            assert importlib.util.find_spec(f"sepconv._native._kernels_{level}"), level


@pytest.mark.parametrize("dilation", [30000, 2**31 - 1])
@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_gradients_of_a_huge_dilation_on_a_tiny_image(dilation, layout):
    # only the centre tap reads the image: its gradient is x * dy, the
    # other taps' zero, and dx is dy times the centre weight
    x = np.full((1, 1, 1, 1), 3.0)
    dk = np.arange(1.0, 10.0).reshape(3, 3, 1, 1)
    grads = sepconv.depthwise_conv2d_grad(
        np.full((1, 1, 1, 1), 2.0),
        x,
        dk,
        padding="same",
        dilation_rate=dilation,
        data_format=layout,
    )
    want = np.zeros((3, 3, 1, 1))
    want[1, 1] = 6.0
    np.testing.assert_array_equal(grads["depthwise_kernel"], want)
    np.testing.assert_array_equal(grads["x"], np.full((1, 1, 1, 1), 10.0))
