"""Time sepconv against PyTorch, TensorFlow and ONNX Runtime on the shapes of issue 5.

Usage (from the repository root, with sepconv importable)::

    python benchmarks/compare.py [--shapes S1,S2] [--dtype float32|float64|both]
        [--threads 1,2] [--repeat N] [--rounds N] [--json out.json] [--plot out.png]
        [--memory] [--backward]

Each (library, threads) runs in a fresh process (``worker.py``) so thread
settings cannot leak between libraries; peers absent here are skipped.  The
table gives the median of ``--repeat`` timed calls after ``--warmup`` calls,
GFLOP/s, and sepconv's time over the fastest peer's (below 1: sepconv wins),
with the geometric mean of those ratios.  With ``--rounds`` above 1 every
library runs that many times, the order of the libraries rotated from round
to round, and the table gives the median of its rounds' medians: on a shared
machine whose speed drifts, no library then owns the quiet or the busy
minutes.  Every peer's output is checked against sepconv's.

``--backward`` times the gradients instead (``backward_peers.py``): all four
gradients of ``sum(y * dy)``, sepconv's ``separable_conv2d_grad`` against
PyTorch's ``y.backward(dy)`` and TensorFlow's ``GradientTape``; the input
gradients are checked.  GFLOP/s then still count the forward's operations.
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import backward_peers
import peers
import report
from shapes import DTYPES, select

WORKER = Path(__file__).with_name("worker.py")


def parse_args(argv=None):
    """The command line; see the module docstring."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        "--shapes",
        help=(
            "comma-separated shapes (S1-S8, W1-W4, L1-L4, S1CF, S7CF) "
            "or sets (wide, single, nchw); default: S1-S8"
        ),
    )
    parser.add_argument("--dtype", choices=[*DTYPES, "both"], default="float32")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--repeat", type=int, default=10, help="timed calls per case")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls before them")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="times each library runs, in rotated order (median of rounds)",
    )
    parser.add_argument(
        "--libraries",
        help=f"comma-separated subset of {','.join(peers.LIBRARIES)} (default: all installed)",
    )
    parser.add_argument("--json", metavar="FILE", help="save every figure as JSON")
    parser.add_argument("--plot", metavar="FILE", help="save a bar chart (needs matplotlib)")
    parser.add_argument(
        "--memory", action="store_true", help="also measure peak RSS growth of one call per library"
    )
    parser.add_argument("--memory-shape", default="S1", help="shape for --memory")
    parser.add_argument("--memory-dtype", choices=DTYPES, default="float32")
    parser.add_argument(
        "--backward",
        action="store_true",
        help="time the backward pass (all four gradients) instead",
    )
    args = parser.parse_args(argv)
    try:
        args.shapes = select(args.shapes)
        args.memory_shape = select(args.memory_shape)[0]
        args.threads = _positive_ints(args.threads)
        args.registry = backward_peers.LIBRARIES if args.backward else peers.LIBRARIES
        args.libraries = _libraries(args.libraries, args.registry)
    except ValueError as error:
        parser.error(str(error))
    if args.repeat < 1 or args.warmup < 0 or args.rounds < 1:
        parser.error(
            "--repeat and --rounds must be >= 1 and --warmup >= 0; got "
            f"{args.repeat}, {args.rounds}, {args.warmup}"
        )
    args.dtypes = list(DTYPES) if args.dtype == "both" else [args.dtype]
    return args


def _positive_ints(text):
    """``"1,2"`` -> ``[1, 2]``; ValueError naming the text otherwise."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        raise ValueError(f"--threads must be positive integers like 1,2; got {text!r}")
    return sorted(set(values))


def _libraries(text, registry):
    """The installed libraries of ``registry`` to run, sepconv always first."""
    installed = peers.available(registry)
    if "sepconv" not in installed:
        raise ValueError("sepconv is not importable: install it or set PYTHONPATH")
    if text is None:
        return installed
    wanted = {name.strip() for name in text.split(",")} | {"sepconv"}
    for name in wanted:
        peers.get(name, registry)
    return [name for name in installed if name in wanted]


def run_worker(library, threads, *options):
    """Run ``worker.py`` in a fresh process; return its JSON, or an error record.

    The thread variables of OpenMP and the BLAS libraries are set to
    ``threads`` too, so no library's helpers run more threads than the others.
    """
    env = dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        OPENBLAS_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp, "result.json")
        command = [
            sys.executable,
            str(WORKER),
            "--library",
            library,
            "--threads",
            str(threads),
            "--out",
            str(out),
            *options,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not out.exists():
            return {
                "library": library,
                "threads": threads,
                "status": "error",
                "reason": done.stderr.strip()[-2000:],
            }
        return json.loads(out.read_text())


def time_all(args):
    """Run every (library, threads) worker once a round; return their results.

    Round k starts with the k-th library (rotating the order), so that over
    the rounds each library runs early and late alike.
    """
    cases = ",".join(f"{shape.name}:{dtype}" for dtype in args.dtypes for shape in args.shapes)
    runs = []
    for round_ in range(args.rounds):
        shift = round_ % len(args.libraries)
        for library in args.libraries[shift:] + args.libraries[:shift]:
            for threads in args.threads:
                print(
                    f"timing {library} on {threads} thread(s), round {round_ + 1} of "
                    f"{args.rounds} ...",
                    file=sys.stderr,
                    flush=True,
                )
                run = run_worker(
                    library,
                    threads,
                    *_mode(args),
                    "--cases",
                    cases,
                    "--repeat",
                    str(args.repeat),
                    "--warmup",
                    str(args.warmup),
                )
                runs.append({**run, "round": round_ + 1})
    return runs


def summarise(args, runs):
    """Rows of the comparison: per (dtype, threads, shape), each library's time and the ratio.

    A library's time is its median, or over several rounds the median of
    its rounds' medians.

    Returns
    -------
    list of dict
        One per (dtype, threads) with ``rows``, ``geomean_ratio`` and ``worst``.
    """
    rounds, checks = {}, {}
    for run in runs:
        for case in run.get("cases", []):
            if case["status"] == "ok":
                key = (case["dtype"], run["threads"], case["shape"], run["library"])
                rounds.setdefault(key, []).append(case["median_ms"])
                if not case.get("check", {"ok": True})["ok"]:
                    checks[key] = case["check"]
    medians = {key: statistics.median(values) for key, values in rounds.items()}
    # floors (peers.BlasFloor) are shown beside the peers, never taken for one
    not_peers = {"sepconv"} | {lib for lib in args.libraries if args.registry[lib].floor}
    tables = []
    for dtype in args.dtypes:
        for threads in args.threads:
            rows = []
            for shape in args.shapes:
                times = {
                    lib: medians.get((dtype, threads, shape.name, lib)) for lib in args.libraries
                }
                peer_times = {
                    lib: ms for lib, ms in times.items() if lib not in not_peers and ms is not None
                }
                fastest = min(peer_times, key=peer_times.get) if peer_times else None
                ratio = (
                    times["sepconv"] / peer_times[fastest]
                    if fastest and times["sepconv"] is not None
                    else None
                )
                failed = [
                    lib for lib in args.libraries if (dtype, threads, shape.name, lib) in checks
                ]
                rows.append(
                    {
                        "shape": shape.name,
                        "gflop": shape.gflop,
                        "ms": times,
                        "fastest_peer": fastest,
                        "ratio": ratio,
                        "check_failed": failed,
                    }
                )
            ratios = [row["ratio"] for row in rows if row["ratio"] is not None]
            tables.append(
                {
                    "dtype": dtype,
                    "threads": threads,
                    "rows": rows,
                    "geomean_ratio": math.exp(sum(map(math.log, ratios)) / len(ratios))
                    if ratios
                    else None,
                    "worst_ratio": max(ratios) if ratios else None,
                }
            )
    return tables


def speedups(args, tables):
    """sepconv's 1-thread time over its 2-thread time, per dtype and shape."""
    if not {1, 2} <= set(args.threads):
        return []
    by_key = {
        (t["dtype"], t["threads"], row["shape"]): row["ms"]["sepconv"]
        for t in tables
        for row in t["rows"]
    }
    result = []
    for dtype in args.dtypes:
        for shape in args.shapes:
            one, two = by_key[(dtype, 1, shape.name)], by_key[(dtype, 2, shape.name)]
            if one and two:
                result.append(
                    {
                        "dtype": dtype,
                        "shape": shape.name,
                        "speedup": one / two,
                        "goal": shape.name in report.SPEEDUP_SHAPES,
                    }
                )
    return result


def _mode(args):
    """The worker's options for forward or backward timing."""
    return ["--backward"] if args.backward else []


def memory_all(args):
    """One fresh process per library measuring peak RSS growth of one call."""
    case = f"{args.memory_shape.name}:{args.memory_dtype}"
    threads = max(args.threads)
    results = []
    for library in args.libraries:
        if args.registry[library].floor:
            continue  # not a layer: its memory says nothing
        print(f"memory of {library} ...", file=sys.stderr, flush=True)
        run = run_worker(library, threads, *_mode(args), "--memory", case)
        results.append(
            {
                "library": library,
                "threads": threads,
                **run.get("memory", {"status": "error", "reason": run.get("reason")}),
            }
        )
    return results


def machine_info(runs):
    """CPU, cores, date and the versions of everything timed."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": _lscpu_model(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {run["library"]: run["version"] for run in runs if "version" in run},
    }
    configs = [run["config"] for run in runs if "config" in run]
    if configs:
        info["sepconv_config"] = configs[0]
    return info


def _lscpu_model():
    """``Model name`` from ``lscpu``, falling back on ``platform.processor()``."""
    try:
        output = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor()
    for line in output.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main(argv=None):
    """Run the comparison; print the report; save JSON and chart when asked."""
    args = parse_args(argv)
    runs = time_all(args)
    tables = summarise(args, runs)
    result = {
        "machine": machine_info(runs),
        "settings": {
            "shapes": [s.name for s in args.shapes],
            "dtypes": args.dtypes,
            "threads": args.threads,
            "repeat": args.repeat,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "backward": args.backward,
            "libraries": args.libraries,
        },
        "tables": tables,
        "speedups": speedups(args, tables),
        "runs": runs,
    }
    if args.memory:
        result["memory"] = memory_all(args)
    print(report.render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    if args.plot:
        import chart

        chart.draw(result, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
