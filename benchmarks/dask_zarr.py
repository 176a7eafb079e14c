"""Out-of-core features: a generated zarr dataset of float32 images on a LocalCluster.

Generates (once) a zarr array of random float32 images of at least
``--gigabytes``, then computes ``SeparableConvFeatures`` of all of it on a
``distributed.LocalCluster`` of one-thread workers with ``--memory-limit``
each, writing the features to zarr, for each worker count of ``--workers``,
``--repeats`` times.  Reports the data size, each worker's peak resident
memory, the throughput per core, the in-memory ``transform`` of a slice on
as many threads as the cluster has cores for comparison (measured before
and after each repeat), and the speed-up over one worker: for each repeat,
and their medians, which are the result.

Before the runs every file of the dataset is read once, so that each run
finds it in the operating system's page cache (the first run would otherwise
read it from disk and the next from memory); the time of that read is
reported.  The workers get the memory allocator setting that the batch
command, ``python -m sepconv features``, gives its own cluster's workers
(``--worker-env`` replaces it).

Per core means at the same load: a cluster of two one-thread workers is
compared with the in-memory transform on two threads (divided by two), one
worker with one thread.  On a machine whose cores slow each other (shared
boost clock, or virtual cores on one physical core) a core alone is faster
than a core beside a busy one, so a one-thread baseline would charge that to
Dask.  Both figures are printed and kept in the JSON.

The goals of issue 12: completes; peak memory per worker under the limit;
throughput per core within 15% of the in-memory transform; 2 workers at
least 1.7x faster than 1.

Usage (from the repository root)::

    python benchmarks/dask_zarr.py --data /tmp/sepconv-images.zarr --json dask.json
"""

import argparse
import importlib
import json
import os
import platform
import shutil
import sys
import time

import numpy as np
import rss

MIB = 2**20


def main(argv=None):
    args = _parser().parse_args(argv)
    import dask.array as da

    from sepconv.transformer import SeparableConvFeatures

    images = _dataset(args)
    if args.worker_env is None:
        args.worker_env = _batch_command_worker_env()
    data = da.from_zarr(args.data)
    estimator = SeparableConvFeatures(filters=args.filters, random_state=0).fit(data)
    print(
        f"data: {args.data} {data.shape} {data.dtype}, {data.nbytes / 1e9:.2f} GB in "
        f"{data.numblocks[0]} chunks of {data.chunks[0][0]} images; {estimator!r}"
    )
    report = {
        "machine": _machine(),
        "data_gb": data.nbytes / 1e9,
        "shape": data.shape,
        "chunk_images": data.chunks[0][0],
        "estimator": repr(estimator),
        "memory_limit": args.memory_limit,
        "worker_env": args.worker_env,
        "page_cache": _read_once(args.data),
    }
    # Each repeat runs every worker count (rotated, so that none always runs
    # first) between two in-memory measurements, so that a shared machine's
    # drift over the minutes shows in the baseline of the runs it spans.
    threads = sorted(set(args.workers) | {1})
    points = [{n: _in_memory(estimator, images, args.rounds, n) for n in threads}]
    report["repeats"] = []
    for repeat in range(args.repeats):
        turn = repeat % len(args.workers)
        order = args.workers[turn:] + args.workers[:turn]
        runs = [_on_cluster(estimator, data, workers, args) for workers in order]
        points.append({n: _in_memory(estimator, images, args.rounds, n) for n in threads})
        baseline = {str(n): _bracket(points[-2][n], points[-1][n]) for n in threads}
        report["repeats"].append(_summarise(sorted(runs, key=lambda r: r["workers"]), baseline))
    report["median"] = _medians(report["repeats"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)
    return 0


def _parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", default="/tmp/sepconv-images.zarr", help="the dataset; generated when absent"
    )
    parser.add_argument("--gigabytes", type=float, default=4.0)
    parser.add_argument("--side", type=int, default=256, help="image height and width")
    parser.add_argument("--chunk-images", type=int, default=64, help="images per chunk")
    parser.add_argument("--filters", type=int, default=16)
    parser.add_argument(
        "--slice-chunks", type=int, default=8, help="chunks in the in-memory slice compared with"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="of the in-memory transform before and after each repeat",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs of each worker count; the medians are the result",
    )
    parser.add_argument("--memory-limit", default="1GB", help="per worker")
    parser.add_argument("--workers", type=lambda t: [int(v) for v in t.split(",")], default=[1, 2])
    parser.add_argument(
        "--worker-env",
        action="append",
        metavar="NAME=VALUE",
        help="set in each worker's environment before it starts (Dask's "
        "distributed.nanny.pre-spawn-environ; an empty VALUE unsets Dask's default); "
        "default: the batch command's memory allocator setting",
    )
    parser.add_argument("--json", help="write the figures to this file")
    return parser


def _dataset(args):
    """Generate the dataset when absent; return its first ``--slice-chunks`` chunks in memory."""
    import dask.array as da
    import zarr

    per_image = args.side * args.side * 4
    count = -(-int(args.gigabytes * 1e9) // per_image)
    count = -(-count // args.chunk_images) * args.chunk_images
    shape = (count, args.side, args.side, 1)
    if not os.path.exists(args.data):
        start = time.perf_counter()
        # uncompressed: the benchmark measures the convolution, not a codec
        target = zarr.create_array(
            args.data,
            shape=shape,
            dtype=np.float32,
            chunks=(args.chunk_images, args.side, args.side, 1),
            compressors=None,
        )
        rng = da.random.default_rng(0)
        source = rng.random(
            shape, dtype=np.float32, chunks=(args.chunk_images, args.side, args.side, 1)
        )
        da.store(source, target, lock=False, scheduler="threads")
        print(f"generated {args.data} in {time.perf_counter() - start:.0f} s")
    return zarr.open_array(args.data, mode="r")[: args.slice_chunks * args.chunk_images]


def _batch_command_worker_env():
    """Return, as ``NAME=VALUE`` items, what the batch command sets in its workers' environment."""
    from sepconv._cli.features import _LOCAL_WORKER_ENVIRON

    prefix = "distributed.nanny.pre-spawn-environ."
    return [f"{key.removeprefix(prefix)}={value}" for key, value in _LOCAL_WORKER_ENVIRON.items()]


def _read_once(path):
    """Read every file under ``path``, so that the runs find it in the page cache; time it.

    Otherwise the first run reads the dataset from disk and the next from
    memory: a one-worker run read from this VM's disk took 91.6 s instead
    of 52 (docs/scaling.md).
    """
    start, total = time.perf_counter(), 0
    for folder, _, names in os.walk(path):
        for name in names:
            with open(os.path.join(folder, name), "rb", buffering=0) as handle:
                while block := handle.read(16 * MIB):
                    total += len(block)
    seconds = time.perf_counter() - start
    print(f"read {total / 1e9:.2f} GB of {path} into the page cache in {seconds:.1f} s")
    return {"bytes": total, "seconds": seconds}


def _in_memory(estimator, images, rounds, threads):
    """Median of ``rounds``: ``transform`` of the in-memory ``images`` on ``threads``.

    The median, as the cluster's total time holds its slow tasks too (a
    best-of-rounds baseline would flatter the in-memory side); also per CPU
    second, which a machine shared with other work leaves less changed than
    wall-clock times.
    """
    estimator.set_params(n_jobs=threads)
    estimator.transform(images[:1])  # scratch memory and imports, as a warm worker has them
    times, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), _cpu_seconds()
        estimator.transform(images)
        times.append(time.perf_counter() - start)
        cpu.append(_cpu_seconds() - start_cpu)
    estimator.set_params(n_jobs=None)
    count = len(images)
    return {
        "images": count,
        "threads": threads,
        "rounds": rounds,
        "seconds": float(np.median(times)),
        "images_per_s": count / float(np.median(times)),
        "images_per_cpu_s": count / float(np.median(cpu)),
    }


def _bracket(before, after):
    """The mean of two in-memory measurements, each kept."""
    return {
        "images": before["images"],
        "threads": before["threads"],
        "rounds": before["rounds"],
        "images_per_s": (before["images_per_s"] + after["images_per_s"]) / 2,
        "images_per_cpu_s": (before["images_per_cpu_s"] + after["images_per_cpu_s"]) / 2,
        "before": before,
        "after": after,
    }


def _cpu_seconds():
    """User and system CPU seconds of this process so far."""
    user, system = os.times()[:2]
    return user + system


def _on_cluster(estimator, data, workers, args):
    """Features of all of ``data`` to zarr on ``workers`` one-thread workers."""
    import dask
    from distributed import Client, LocalCluster, wait

    out = args.data + f".features-{workers}.zarr"
    shutil.rmtree(out, ignore_errors=True)
    # key by key: setting the whole mapping would drop Dask's own entries
    environ = dict(item.split("=", 1) for item in args.worker_env)
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v or None for k, v in environ.items()}
    with (
        dask.config.set(environ),
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=args.memory_limit,
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(sys.path.insert, 0, os.path.dirname(os.path.abspath(__file__)))
        # imported before the clock starts, as a long-lived cluster would have them
        client.run(importlib.import_module, "sepconv.transformer")
        client.run(rss.reset_peak)
        features = estimator.transform(data)
        start, start_cpu = time.perf_counter(), client.run(_cpu_seconds)
        future = client.compute(features.to_zarr(out, compute=False))
        wait(future)
        future.result()
        seconds = time.perf_counter() - start
        cpu = client.run(_cpu_seconds)
        peaks = client.run(rss.peak_bytes)
    cpu_seconds = sum(cpu[w] - start_cpu[w] for w in cpu)
    shutil.rmtree(out, ignore_errors=True)
    result = {
        "workers": workers,
        "seconds": seconds,
        "images_per_s": data.shape[0] / seconds,
        "images_per_s_per_core": data.shape[0] / seconds / workers,
        "worker_cpu_s": cpu_seconds,
        "images_per_cpu_s": data.shape[0] / cpu_seconds,
        "peak_rss_mib": sorted(p / MIB for p in peaks.values()),
    }
    print(
        f"{workers} worker(s): {seconds:.1f} s, {result['images_per_s']:.1f} images/s, "
        f"{result['images_per_cpu_s']:.1f} images per worker CPU second, peak RSS per "
        f"worker {', '.join(f'{p:.0f}' for p in result['peak_rss_mib'])} MiB"
    )
    return result


def _summarise(runs, baseline):
    """Return one repeat's runs with the ratios the goals are stated in; print them."""
    repeat = {"in_memory": baseline, "cluster": runs}
    for n, base in baseline.items():
        print(
            f"in memory, {n} thread(s), {base['images']} images, median of {base['rounds']} "
            f"before and {base['rounds']} after: {base['before']['images_per_s']:.1f} and "
            f"{base['after']['images_per_s']:.1f} images/s"
        )
    for run in runs:
        workers = run["workers"]
        same, alone = baseline[str(workers)], baseline["1"]
        # in memory on as many threads as the cluster has one-thread workers
        run["per_core_vs_in_memory"] = run["images_per_s"] / same["images_per_s"]
        run["per_core_vs_one_thread"] = run["images_per_s_per_core"] / alone["images_per_s"]
        run["per_cpu_s_vs_in_memory"] = run["images_per_cpu_s"] / same["images_per_cpu_s"]
        print(
            f"{workers} worker(s): throughput per core {run['per_core_vs_in_memory']:.2f} x "
            f"the in-memory transform on {workers} thread(s) (wall clock), "
            f"{run['per_cpu_s_vs_in_memory']:.2f} x (per CPU second); "
            f"{run['per_core_vs_one_thread']:.2f} x one thread alone"
        )
    seconds = {run["workers"]: run["seconds"] for run in runs}
    if 1 in seconds and 2 in seconds:
        repeat["speedup_2_vs_1"] = seconds[1] / seconds[2]
        print(f"2 workers vs 1: {repeat['speedup_2_vs_1']:.2f} x")
    return repeat


def _medians(repeats):
    """Return the median over ``repeats`` of each ratio and peak memory; print them."""
    medians = {}
    for runs in zip(*(repeat["cluster"] for repeat in repeats), strict=True):
        workers = runs[0]["workers"]
        summary = {
            key: float(np.median([run[key] for run in runs]))
            for key in (
                "seconds",
                "images_per_s",
                "per_core_vs_in_memory",
                "per_cpu_s_vs_in_memory",
            )
        }
        summary["peak_rss_mib_max"] = max(max(run["peak_rss_mib"]) for run in runs)
        medians[f"{workers}_workers"] = summary
        ratios = sorted(run["per_core_vs_in_memory"] for run in runs)
        print(
            f"{workers} worker(s), median of {len(runs)}: throughput per core "
            f"{summary['per_core_vs_in_memory']:.2f} x the in-memory transform (runs "
            f"{', '.join(f'{r:.2f}' for r in ratios)}); peak RSS at most "
            f"{summary['peak_rss_mib_max']:.0f} MiB"
        )
    speedups = sorted(repeat["speedup_2_vs_1"] for repeat in repeats if "speedup_2_vs_1" in repeat)
    if speedups:
        medians["speedup_2_vs_1"] = float(np.median(speedups))
        print(
            f"2 workers vs 1, median of {len(speedups)}: {medians['speedup_2_vs_1']:.2f} x "
            f"(runs {', '.join(f'{r:.2f}' for r in speedups)})"
        )
    return medians


def _machine():
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_at_start": os.getloadavg(),
    }


if __name__ == "__main__":
    sys.exit(main())
