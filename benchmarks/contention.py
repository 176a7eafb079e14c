"""sepconv when the machine is shared: a competing process, other Python threads.

    python benchmarks/contention.py [--repeat 15] [--rounds 3] [--json FILE]

Three measurements, each the median over rounds of the median of
``--repeat`` calls:

1. **A busy core.**  A (2, 19, 19, 728) -> 728 layer (Xception's middle flow)
   with the default thread count and with ``n_threads=1``, on a quiet
   machine and while another process spins on one core.  Goal: with the
   competing process, the default is no slower than ``n_threads=1``.
2. **Two Python threads.**  Two threads each calling
   ``separable_conv2d(..., n_threads=1)`` on (8, 56, 56, 64) -> 64, against
   one thread alone (time per call).  Goal: at most 1.25x.
3. **Beside a busy Python thread.**  The same call while another Python
   thread runs pure-Python code (the GIL is taken back as few times as
   possible); NumPy's matmul of the same size beside it for comparison.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import threading
import time

import numpy as np
from scaling import median_ms

import sepconv


def _spin(stop):
    while not stop.is_set():
        pass


def operands(shape, filters, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape, dtype=np.float32)
    dk = rng.standard_normal((3, 3, shape[-1], 1), dtype=np.float32)
    pk = rng.standard_normal((shape[-1], filters), dtype=np.float32)
    return x, dk, pk


def busy_core(repeat):
    """ms of the Xception layer at default and one thread, quiet and beside a spinning process."""
    x, dk, pk = operands((2, 19, 19, 728), 728)
    result = {}
    for competing in (False, True):
        stop = mp.get_context("spawn").Event()
        spinner = mp.get_context("spawn").Process(target=_spin, args=(stop,))
        if competing:
            spinner.start()
            time.sleep(0.5)
        try:
            for label, threads in (("default", None), ("n_threads=1", 1)):
                result[f"{'busy' if competing else 'quiet'} {label}"] = median_ms(
                    lambda threads=threads: sepconv.separable_conv2d(
                        x, dk, pk, padding="same", n_threads=threads
                    ),
                    repeat,
                )
        finally:
            stop.set()
            if competing:
                spinner.join()
    return result


def two_threads(repeat):
    """ms per call: one thread alone, then two threads calling at once."""
    x, dk, pk = operands((8, 56, 56, 64), 64)

    def call():
        sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=1)

    alone = median_ms(call, repeat)
    barrier = threading.Barrier(2)
    per_thread = []

    def worker():
        barrier.wait()
        per_thread.append(median_ms(call, repeat))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "one thread": alone,
        "two threads": float(np.median(per_thread)),
        "ratio": float(np.median(per_thread)) / alone,
    }


def beside_busy_python(repeat):
    """ms of the sepconv call and of a NumPy matmul, quiet and beside a pure-Python thread."""
    x, dk, pk = operands((8, 56, 56, 64), 64)
    a = x.reshape(-1, 64)
    calls = {
        "sepconv": lambda: sepconv.separable_conv2d(x, dk, pk, padding="same", n_threads=1),
        "numpy matmul": lambda: a @ pk,
    }
    result = {}
    for busy in (False, True):
        stop = threading.Event()
        spinner = threading.Thread(target=_spin, args=(stop,))
        if busy:
            spinner.start()
        try:
            for name, call in calls.items():
                result[f"{name} {'beside busy thread' if busy else 'alone'}"] = median_ms(
                    call, repeat
                )
        finally:
            stop.set()
            if busy:
                spinner.join()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    rounds = {"busy core": [], "two threads": [], "busy python thread": []}
    for _ in range(args.rounds):
        rounds["busy core"].append(busy_core(args.repeat))
        rounds["two threads"].append(two_threads(args.repeat))
        rounds["busy python thread"].append(beside_busy_python(args.repeat))
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"sepconv {sepconv.__version__}; ms, median of {args.rounds} rounds"
    )
    summary = {}
    for name, per_round in rounds.items():
        print(f"\n{name}")
        summary[name] = {key: float(np.median([r[key] for r in per_round])) for key in per_round[0]}
        for key, value in summary[name].items():
            print(f"  {key:40s} {value:8.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"summary": summary, "rounds": rounds}, fh, indent=1)


if __name__ == "__main__":
    main()
