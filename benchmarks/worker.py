"""What runs inside each fresh process of the comparison: one library, one thread count.

``compare.py`` starts this script once per (library, threads) for the timings
and once per library for the memory figure, so thread settings and memory
peaks never leak from one library to another.  It writes its results as JSON
to ``--out``.

Timing: for each case, the operands are made and converted untimed, the call
runs ``--warmup`` times, then ``--repeat`` times under ``time.perf_counter``.
Once every case is timed, each peer case runs once more and its output is
checked against sepconv's on the same data with ``numpy.allclose``; sepconv is
imported only then (on one thread), so it never runs beside a timed peer.

Memory: see :func:`measure_memory`.
"""

import argparse
import gc
import json
import time

import backward_peers
import numpy as np
import peers
import rss
from shapes import DTYPES, SHAPES, make_data

# allclose tolerances, relative to the largest output magnitude: both steps
# sum up to a few thousand products, and libraries order those sums differently.
TOLERANCE = {"float32": 1e-4, "float64": 1e-10}


def time_case(library, shape, dtype, threads, warmup, repeat):
    """Time one case; return its JSON record (``status`` ok, skipped or error)."""
    record = {"shape": shape.name, "dtype": dtype}
    data = make_data(shape, dtype)
    try:
        call, to_nhwc = library.prepare(shape, data, threads)
    except peers.Unsupported as why:
        return {**record, "status": "skipped", "reason": str(why)}
    for _ in range(warmup):
        call()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = call()
        seconds.append(time.perf_counter() - start)
        del out  # freeing the output stays out of the timed region
    return {
        **record,
        "status": "ok",
        "seconds": seconds,
        "median_ms": 1e3 * float(np.median(seconds)),
    }


def check_case(library, shape, dtype, threads, reference):
    """Run a peer's case once and compare its output with ``reference(shape, data, 1)``."""
    data = make_data(shape, dtype)
    call, to_nhwc = library.prepare(shape, data, threads)
    result = np.asarray(to_nhwc(call()))
    expected = reference(shape, data, 1)
    if result.shape != expected.shape:
        return {"ok": False, "reason": f"shape {result.shape} != sepconv's {expected.shape}"}
    scale = float(np.max(np.abs(expected)))
    tolerance = TOLERANCE[expected.dtype.name] * scale
    return {
        "ok": bool(np.allclose(result, expected, rtol=0, atol=tolerance)),
        "max_abs_error": float(np.max(np.abs(result - expected))),
        "atol": tolerance,
    }


def measure_memory(library, shape, dtype, threads):
    """Peak RSS growth of one call, after operands and setup are in memory.

    What is measured, in this fresh process: first the library runs the same
    convolution on a one-image batch, so lazy imports and thread pools exist
    before the baseline (they are paid once per process, not per call).  Then
    the full operands are made and converted to the library's layout, its
    model or session is built (a new one: nothing sized for the full batch
    exists yet) and ``gc.collect()`` runs.  The peak-RSS mark is reset to the
    current RSS, the baseline.  The call runs once and, with its output still
    held, ``ru_maxrss`` is read: growth = ``ru_maxrss`` - baseline.  Where the
    mark cannot be reset, the baseline is ``ru_maxrss`` before the call and
    the growth a lower bound (``peak_reset`` is False).
    """
    warm, _ = library.prepare(shape.one_image(), make_data(shape.one_image(), dtype), threads)
    warm()
    del warm
    data = make_data(shape, dtype)
    call, _ = library.prepare(shape, data, threads)
    gc.collect()
    peak_reset = rss.reset_peak()
    before = rss.peak_bytes()
    out = call()
    growth = max(rss.peak_bytes() - before, 0)
    del out
    return {
        "shape": shape.name,
        "dtype": dtype,
        "status": "ok",
        "peak_reset": peak_reset,
        "baseline_bytes": before,
        "growth_bytes": growth,
        "output_bytes": shape.output_bytes(dtype),
        "ratio": growth / shape.output_bytes(dtype),
    }


def run(args):
    """Configure the library, run the timings or the memory case, write the JSON."""
    # --backward: the gradients' timings (backward_peers.py), checked by dx
    registry, reference = (
        (backward_peers.LIBRARIES, backward_peers.reference)
        if args.backward
        else (peers.LIBRARIES, peers.reference)
    )
    library = peers.get(args.library, registry)
    library.configure(args.threads)
    result = {"library": library.name, "version": library.version(), "threads": args.threads}
    if library.name == "sepconv":
        import sepconv

        result["config"] = sepconv.config_info()
    if args.memory:
        name, dtype = args.memory.split(":")
        try:
            result["memory"] = measure_memory(library, SHAPES[name], dtype, args.threads)
        except peers.Unsupported as why:
            result["memory"] = {
                "shape": name,
                "dtype": dtype,
                "status": "skipped",
                "reason": str(why),
            }
    else:
        result["cases"] = []
        for case in args.cases.split(","):
            name, dtype = case.split(":")
            try:
                record = time_case(
                    library, SHAPES[name], dtype, args.threads, args.warmup, args.repeat
                )
            except Exception as error:  # one broken case must not lose the others
                record = {
                    "shape": name,
                    "dtype": dtype,
                    "status": "error",
                    "reason": f"{type(error).__name__}: {error}",
                }
            result["cases"].append(record)
        if library.name != "sepconv" and not library.floor:
            for record in result["cases"]:
                if record["status"] == "ok":
                    record["check"] = check_case(
                        library, SHAPES[record["shape"]], record["dtype"], args.threads, reference
                    )
    with open(args.out, "w") as handle:
        json.dump(result, handle, default=str)


def parse_args(argv=None):
    """Arguments as ``compare.py`` passes them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True, choices=list(peers.LIBRARIES))
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--out", required=True, help="JSON file to write")
    parser.add_argument("--cases", default="", help="SHAPE:DTYPE,... to time")
    parser.add_argument("--memory", help="SHAPE:DTYPE whose peak memory to measure")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--backward", action="store_true", help="time the gradients")
    args = parser.parse_args(argv)
    for case in filter(None, args.cases.split(",") + [args.memory or ""]):
        name, _, dtype = case.partition(":")
        if name not in SHAPES or dtype not in DTYPES:
            parser.error(
                f"a case must be SHAPE:DTYPE with a shape of S1-S8 and a dtype of "
                f"{', '.join(DTYPES)}; got {case!r}"
            )
    return args


if __name__ == "__main__":
    run(parse_args())
