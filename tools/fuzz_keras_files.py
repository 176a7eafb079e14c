"""Fuzz sepconv.load_keras_layers longer than the test suite does, surviving crashes.

    python tools/fuzz_keras_files.py [--cases 5000] [--seed 0] [--out fuzz-crashes]

Each case damages one of the Keras-made files of tests/data/keras_files/
(tests/keras_file_mutations.py) and loads it; the outcome must be layers or
a ValueError naming the file.  The cases run in a child process, which
writes each damaged file to ``--out`` before loading it: when the child dies
(a crash inside libhdf5), hangs (no outcome within ten times
``--hang-seconds``; one over that time once is counted slow) or another
exception escapes, that file is kept
there and reported, and a new child goes on with the next case.  Prints the
count of each outcome; exits 1 when anything was kept.
"""

import argparse
import os
import selectors
import subprocess
import sys
import tempfile
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))


def run_child(first, last, seed, out):
    """Child: run cases first..last-1, one line per outcome on stdout."""
    import random

    from keras_file_mutations import KINDS
    from test_saving_fuzz import FUZZED, check_damaged

    for case in range(first, last):
        rng = random.Random(seed * 1_000_003 + case)
        filename, config = rng.choice(FUZZED)
        kind = rng.choice(KINDS)
        mutation_seed = rng.randrange(2**32)
        print(f"start {case} {kind} {mutation_seed} {filename}", flush=True)
        try:
            check_damaged(filename, config, kind, mutation_seed, out)
        except BaseException as exc:  # report everything but a ValueError naming the file
            print(f"escaped {case} {type(exc).__name__}: {str(exc)[:200]}", flush=True)
            raise SystemExit(3) from exc
        print(f"ok {case}", flush=True)


def run_children(args):
    """Run the cases in children until all are done; return (outcome counts, kept cases)."""
    outcomes, kept, case = Counter(), [], 0
    while case < args.cases:
        command = [
            sys.executable,
            __file__,
            "--seed",
            str(args.seed),
            "--out",
            args.out,
            "--child",
            str(case),
            str(args.cases),
        ]
        # stderr goes to a file: a full pipe would stall a child that warns a lot.
        with tempfile.TemporaryFile("w+") as stderr:
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)
            status, started, last_line = _follow(child, args.hang_seconds, outcomes)
            stderr.seek(0)
            errors = stderr.read()[-500:]
        if status == 0:
            break
        if started is None:
            raise RuntimeError(f"the fuzzing child failed to start:\n{errors}")
        # The case that started last did not finish: its damaged file is still in --out.
        outcomes["kept"] += 1
        kept.append((started, last_line, errors))
        case = started[0] + 1
    return outcomes, kept


def _follow(child, hang_seconds, outcomes):
    """Count the child's outcomes; return its exit status, the last case started, the last line.

    A case silent for ``hang_seconds`` is counted slow (libhdf5 can take long
    on a damaged file); silent for ten times that, it is a hang and the child
    is killed.
    """
    started, last_line, quiet = None, "", 0
    for line in _lines(child, hang_seconds):
        if line is None:
            quiet += 1
            outcomes[f"slow (over {hang_seconds:g} s)"] += quiet == 1
            if quiet < 10:
                continue
            child.kill()
            return child.wait(), started, f"hang: no outcome within {10 * hang_seconds:g} s"
        quiet, last_line = 0, line
        word, number, *rest = line.split(" ", 2)
        if word == "start":
            started = (int(number), rest[0])
        elif word == "ok":
            outcomes["loaded or ValueError"] += 1
    return child.wait(), started, last_line


def _lines(child, timeout):
    """The child's stdout lines until it ends, and None for each ``timeout`` seconds of silence."""
    # Raw reads of the pipe: a buffered reader could hold lines that select() cannot see.
    fd, pending = child.stdout.fileno(), b""
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            if not selector.select(timeout):
                yield None
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return
            *lines, pending = (pending + chunk).split(b"\n")
            yield from (line.decode() for line in lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="fuzz-crashes")
    parser.add_argument("--hang-seconds", type=float, default=30.0)
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.child:
        run_child(*args.child, args.seed, args.out)
        return 0
    outcomes, kept = run_children(args)
    print(dict(outcomes))
    for started, last_line, stderr in kept:
        print(f"KEPT case {started}: {last_line}\n{stderr}")
    return 1 if kept else 0


if __name__ == "__main__":
    sys.exit(main())
