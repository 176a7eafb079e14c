"""The floating-point peak of this machine's cores: what no convolution can beat.

A layer whose time goes to its pointwise GEMM (Xception's and MobileNet's
wide layers) cannot run faster than the multiply-adds it must do at the
cores' peak rate.  This measures that rate: a C loop of independent fused
multiply-add chains (enough chains to hide the instruction's latency, all in
registers: no memory traffic), compiled here with the system C compiler for
the widest vector unit the CPU reports, run on 1 to ``--threads`` cores at
once (one process per core), float32.

Usage (from the repository root; needs a C compiler, ``cc`` or ``$CC``)::

    python benchmarks/peak.py [--threads 1,2] [--seconds 1] [--rounds 5]

Prints GFLOP/s per core and in all, the median of ``--rounds``; with
``--json`` also writes them.  Compare with ``compare.py``'s GFLOP/s columns:
a peer at 87% of the peak leaves an implementation at most 1/0.87 = 1.15x
to gain on a GEMM-bound layer.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Independent accumulator chains: at least latency x issue width (4 cycles x 2
# FMA units on current x86 cores) so that the units never wait for a result.
CHAINS = 12

_SOURCE = r"""
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include VECTOR_HEADER

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char** argv) {
    double seconds = atof(argv[1]);
    VEC acc[CHAINS];
    VEC b = SET1(1.0000001f), c = SET1(1e-7f);
    for (int i = 0; i < CHAINS; i++) acc[i] = SET1((float) i);
    long iterations = 0;
    double start = now(), elapsed;
    do {
        for (int k = 0; k < 100000; k++) {
            #pragma GCC unroll 16
            for (int i = 0; i < CHAINS; i++) acc[i] = FMA(acc[i], b, c);
        }
        iterations += 100000;
        elapsed = now() - start;
    } while (elapsed < seconds);
    float sink = 0;  /* keeps the chains alive */
    for (int i = 0; i < CHAINS; i++) sink += FIRST(acc[i]);
    printf("%.6f %g\n", (double) iterations * CHAINS * LANES * 2 / elapsed / 1e9, sink);
    return 0;
}
"""

# Per vector unit: compiler flags and the macros the source uses.
_UNITS = {
    "avx512": (
        ["-mavx512f"],
        {
            "VECTOR_HEADER": "<immintrin.h>",
            "VEC": "__m512",
            "SET1": "_mm512_set1_ps",
            "FMA": "_mm512_fmadd_ps",
            "FIRST(v)": "_mm512_cvtss_f32(v)",
            "LANES": "16",
        },
    ),
    "avx2": (
        ["-mavx2", "-mfma"],
        {
            "VECTOR_HEADER": "<immintrin.h>",
            "VEC": "__m256",
            "SET1": "_mm256_set1_ps",
            "FMA": "_mm256_fmadd_ps",
            "FIRST(v)": "_mm256_cvtss_f32(v)",
            "LANES": "8",
        },
    ),
    "neon": (
        [],
        {
            "VECTOR_HEADER": "<arm_neon.h>",
            "VEC": "float32x4_t",
            "SET1": "vdupq_n_f32",
            "FMA(a, b, c)": "vfmaq_f32(c, a, b)",
            "FIRST(v)": "vgetq_lane_f32(v, 0)",
            "LANES": "4",
        },
    ),
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="1,2", help="comma-separated core counts")
    parser.add_argument("--seconds", type=float, default=1.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--unit", choices=sorted(_UNITS), help="default: the widest here")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    unit = args.unit or _widest_unit()
    report = {"cpu": _cpu_name(), "unit": unit, "chains": CHAINS, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        program = _compile(unit, Path(tmp))
        for threads in (int(t) for t in args.threads.split(",")):
            per_core = statistics.median(
                statistics.mean(_run_at_once(program, threads, args.seconds))
                for _ in range(args.rounds)
            )
            report["runs"].append(
                {"threads": threads, "gflops_per_core": per_core, "gflops": per_core * threads}
            )
            print(
                f"{report['cpu']}, {unit}, {threads} core(s): {per_core:.1f} GFLOP/s per core, "
                f"{per_core * threads:.1f} in all (float32, median of {args.rounds})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


def _widest_unit():
    """The widest vector unit with fused multiply-add this CPU reports."""
    if platform.machine().lower() in ("aarch64", "arm64"):
        return "neon"
    flags = _cpu_flags()
    if "avx512f" in flags:
        return "avx512"
    if {"avx2", "fma"} <= flags:
        return "avx2"
    sys.exit("peak.py: no AVX2/FMA, AVX-512 or NEON unit found")


def _cpu_flags():
    for line in _cpuinfo_lines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _cpu_name():
    for line in _cpuinfo_lines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpuinfo_lines():
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


def _compile(unit, folder):
    """Compile the loop for ``unit`` into ``folder``; return the program's path."""
    flags, macros = _UNITS[unit]
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        sys.exit("peak.py: needs a C compiler (cc, gcc or $CC)")
    source = folder / "peak.c"
    source.write_text(_SOURCE)
    program = folder / "peak"
    defines = [f"-D{name}={value}" for name, value in macros.items()]
    subprocess.run(
        [compiler, "-O2", *flags, f"-DCHAINS={CHAINS}", *defines, str(source), "-o", str(program)],
        check=True,
    )
    return program


def _run_at_once(program, processes, seconds):
    """GFLOP/s of each of ``processes`` copies of the program started together."""

    def run(_):
        command = [str(program), str(seconds)]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout

    with ThreadPoolExecutor(processes) as pool:
        return [float(out.split()[0]) for out in pool.map(run, range(processes))]


if __name__ == "__main__":
    sys.exit(main())
