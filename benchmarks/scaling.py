"""How sepconv's kernels scale with threads, past the two cores of a dev machine.

    python benchmarks/scaling.py [--shapes S1,S3,S5] [--threads 1,2,4,8,16]
                                 [--dtype float32] [--repeat 7] [--json FILE]

For each shape and thread count: the median time of ``separable_conv2d`` with
``n_threads`` set, its GFLOP/s, the speedup over one thread and the parallel
efficiency (speedup / threads).  Where PyTorch is importable, its grouped
``conv2d`` then 1x1 ``conv2d`` (channels_last memory format) is timed at the
same thread counts beside it, as a yardstick.  Everything runs in this one
process, one library at a time; only the thread count changes between rows.
"""

import argparse
import json
import os
import platform
import time

import numpy as np
from shapes import make_data, select


def median_ms(call, repeat):
    """Median wall time of ``call`` over ``repeat`` runs, after one warm-up, in ms."""
    call()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - start)
    return 1e3 * float(np.median(seconds))


def sepconv_call(shape, data, threads):
    """A zero-argument call of sepconv on one case's operands."""
    import sepconv

    return lambda: sepconv.separable_conv2d(
        data["x"],
        data["depthwise"],
        data["pointwise"],
        data["bias"],
        strides=shape.stride,
        padding="same",
        dilation_rate=shape.dilation,
        n_threads=threads,
    )


def torch_call(shape, data, threads):
    """A zero-argument call of PyTorch on the same case, or None without PyTorch."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        return None
    torch.set_num_threads(threads)
    x = torch.from_numpy(data["x"]).permute(0, 3, 1, 2)  # NHWC memory, channels_last view
    dw = torch.from_numpy(
        np.ascontiguousarray(
            data["depthwise"].transpose(2, 3, 0, 1).reshape(shape.c * shape.dm, 1, shape.k, shape.k)
        )
    )
    pw = torch.from_numpy(np.ascontiguousarray(data["pointwise"][0, 0].T[:, :, None, None]))
    bias = torch.from_numpy(data["bias"])
    pad = shape.dilation * (shape.k - 1) // 2 if shape.stride == 1 else None

    def call():
        with torch.no_grad():
            inp = x if pad is not None else F.pad(x, _asymmetric(shape))
            d = F.conv2d(
                inp,
                dw,
                stride=shape.stride,
                padding=pad or 0,
                dilation=shape.dilation,
                groups=shape.c,
            )
            return F.conv2d(d, pw, bias)

    return call


def _asymmetric(shape):
    """TensorFlow's "same" padding as F.pad's (left, right, top, bottom)."""
    from shapes import same_padding

    top, bottom = same_padding(shape.h, shape.k, shape.stride, shape.dilation)
    left, right = same_padding(shape.w, shape.k, shape.stride, shape.dilation)
    return (left, right, top, bottom)


def main(argv=None):
    """Run the scaling table; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="S1,S3,S5")
    parser.add_argument(
        "--threads",
        default=None,
        help="comma-separated thread counts (default: powers of 2 up to the cores)",
    )
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    threads = (
        [int(t) for t in args.threads.split(",")]
        if args.threads
        else [t for t in (1, 2, 4, 8, 16, 32, 64) if t <= cores]
    )
    print(f"{platform.processor() or platform.machine()}, {cores} CPUs, {args.dtype}")
    rows = []
    for shape in select(args.shapes):
        data = make_data(shape, args.dtype)
        for library, make in (("sepconv", sepconv_call), ("pytorch", torch_call)):
            base = None
            for t in threads:
                call = make(shape, data, t)
                if call is None:
                    break
                ms = median_ms(call, args.repeat)
                base = base or ms
                rows.append(
                    {
                        "shape": shape.name,
                        "library": library,
                        "threads": t,
                        "ms": ms,
                        "gflops": shape.gflop / ms * 1e3,
                        "speedup": base / ms,
                    }
                )
                r = rows[-1]
                print(
                    f"{shape.name} {library:8s} {t:3d} threads  {ms:9.2f} ms  "
                    f"{r['gflops']:7.1f} GF/s  speedup {r['speedup']:5.2f}  "
                    f"efficiency {r['speedup'] / t:4.2f}",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"cpus": cores, "dtype": args.dtype, "rows": rows}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
