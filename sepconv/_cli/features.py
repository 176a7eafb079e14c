"""``python -m sepconv features IN OUT``: SeparableConvFeatures of an array too large for memory.

Reads a zarr array (or a ``.npy`` file, memory-mapped) chunk by chunk on a
Dask cluster, and writes ``SeparableConvFeatures(...).fit(X).transform(X)``
to a zarr array at the root of ``OUT``, with Dask's progress bar.  The
output's attributes say which blocks are written and whether all are: a run
started again after an interruption writes only the missing blocks, and
a partial output never passes for a whole one.
"""

import argparse
import contextlib
import functools
import hashlib
import math
import os
import pickle
import sys
import threading

import numpy as np

from .._args import is_integer

# The mark this command keeps in the output's zarr attributes.
MARK = "sepconv_features"

# Bytes of input per chunk when --chunk-size is not given.
AUTO_CHUNK_BYTES = 64 * 2**20


def add_arguments(parser):
    """Add the options of the ``features`` command to ``parser``."""
    parser.add_argument(
        "input",
        metavar="IN",
        help="a zarr array (store root; a path or an "
        "fsspec URL) or a .npy file: (n, H*W*C) rows or an (n, H, W, C) / "
        "(n, C, H, W) batch",
    )
    parser.add_argument(
        "output",
        metavar="OUT",
        help="the local zarr store to write the (n, n_features_out_) features to, at its root",
    )
    estimator = parser.add_argument_group(
        "the transformer",
        "SeparableConvFeatures's parameters, named after them; tuples "
        "written 3,5 and max,2 (default: the transformer's defaults)",
    )
    for name, (kind, metavar) in _PARAMETERS.items():
        # absent unless given, so that "--activation none" can pass None
        estimator.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            type=kind,
            metavar=metavar,
            default=argparse.SUPPRESS,
        )
    estimator.add_argument(
        "--estimator",
        metavar="FILE.pkl",
        help="a fitted SeparableConvFeatures saved with pickle, used instead "
        "of the options above (load only files you trust)",
    )
    run_group = parser.add_argument_group("the run")
    run_group.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a running Dask scheduler (default: start a local "
        "cluster of one-thread worker processes, without the memory "
        "allocator setting Dask's nanny gives workers: see the scaling docs)",
    )
    run_group.add_argument(
        "--n-workers",
        type=int,
        metavar="N",
        help="workers of the local cluster (default: one per core)",
    )
    run_group.add_argument(
        "--chunk-size",
        type=int,
        metavar="N",
        help="images per task (default: 64 MiB of input per task, or the zarr input's own chunks)",
    )
    run_group.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT if it exists (otherwise an OUT left by an "
        "interrupted run of the same command is resumed, a finished "
        "one kept, and any other refused)",
    )
    run_group.add_argument(
        "--no-progress", dest="progress", action="store_false", help="do not show the progress bar"
    )


def run(args):
    """Compute and write the features (or what an interrupted run left); return the exit status."""
    X = _read(args.input, args.chunk_size)
    estimator = _estimator(args, X)
    fingerprint = {
        "input": os.path.abspath(args.input),
        "shape": list(X.shape),
        "dtype": str(X.dtype),
        "chunk_size": X.chunks[0][0],
        "estimator": repr(estimator),
        "filters": _digest(estimator),
    }
    done = _written_blocks(args.output, fingerprint, args.overwrite)
    if done is True:
        print(f"{args.output} already holds these features; nothing to do")
        return 0
    features = estimator.transform(X)
    print(
        f"sepconv features: {args.input} {X.shape} {X.dtype}, {X.numblocks[0]} tasks of "
        f"{X.chunks[0][0]} images -> {args.output} {features.shape} {features.dtype}"
    )
    print(f"estimator: {estimator!r}")
    if done:
        print(f"resuming: {len(done)} of {X.numblocks[0]} tasks were written by an interrupted run")
    ledger = _Ledger(
        _open_output(args.output, features, done is not None),
        fingerprint,
        estimator.random_state,
        done or [],
    )
    todo = [i for i in range(X.numblocks[0]) if i not in set(ledger.done)]
    try:
        _compute(args, features, ledger, todo)
    except KeyboardInterrupt:
        print(
            f"\ninterrupted: {len(ledger.done)} of {X.numblocks[0]} tasks written; run the "
            "same command again to resume",
            file=sys.stderr,
        )
        return 130  # the shell's status for SIGINT
    ledger.complete()
    print(f"wrote {args.output}: {features.shape} {features.dtype}")
    return 0


# --------------------------------------------------------------------------
# Options


def _ints(text):
    """``"3"`` -> 3 and ``"3,5"`` -> (3, 5): the int-or-tuple parameters."""
    values = tuple(
        _int(v, text, "an integer or integers separated by commas") for v in text.split(",")
    )
    return values[0] if len(values) == 1 else values


def _int_or_auto(text):
    """``"auto"`` or an int: ``depth_multiplier`` and ``batch_size``."""
    return text if text == "auto" else _int(text, text, "an integer or 'auto'")


def _int(part, text, expected):
    """Return ``int(part)``; an argparse error naming what was ``expected`` and ``text``."""
    try:
        return int(part)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}; received {text!r}") from None


def _pooling(text):
    """``"max"`` -> "max", ``"max,2"`` -> ("max", 2), ``"max,2,3"`` -> ("max", (2, 3))."""
    op, *grid = text.split(",")
    if not grid:
        return op
    return (op, _ints(",".join(grid)))


def _activation(text):
    """``"none"`` -> None; other names as they are."""
    return None if text == "none" else text


# parameter -> (how its option's text becomes the value, the option's metavar)
_PARAMETERS = {
    "filters": (int, "N"),
    "kernel_size": (_ints, "K|KH,KW"),
    "strides": (_ints, "S|SH,SW"),
    "padding": (str, "same|valid"),
    "dilation_rate": (_ints, "D|DH,DW"),
    "depth_multiplier": (_int_or_auto, "M|auto"),
    "activation": (_activation, "relu|linear|none"),
    "pooling": (_pooling, "OP|OP,G|OP,GH,GW"),
    "image_shape": (_ints, "H,W[,C]"),
    "data_format": (str, "channels_last|channels_first"),
    "random_state": (int, "SEED"),
    "batch_size": (_int_or_auto, "N|auto"),
    "n_jobs": (int, "N"),
}


def _estimator(args, X):
    """Return the fitted transformer: loaded from ``--estimator``, or fitted on ``X``'s shape."""
    from ..transformer import SeparableConvFeatures

    given = {name: getattr(args, name) for name in _PARAMETERS if hasattr(args, name)}
    if args.estimator is None:
        given.setdefault("random_state", _seed(args))
        return SeparableConvFeatures(**given).fit(X)
    if given:
        raise SystemExit(
            "features: --estimator takes the place of the transformer's options; "
            f"received --estimator {args.estimator} with "
            + " ".join("--" + name.replace("_", "-") for name in given)
        )
    try:
        with open(args.estimator, "rb") as file:
            estimator = pickle.load(file)
    except OSError as exc:
        raise SystemExit(
            f"features: --estimator {args.estimator} could not be read: {exc.strerror}"
        ) from None
    if not isinstance(estimator, SeparableConvFeatures) or not _is_fitted(estimator):
        what = "an unfitted" if isinstance(estimator, SeparableConvFeatures) else "a"
        raise SystemExit(
            f"features: --estimator {args.estimator} holds {what} "
            f"{type(estimator).__name__}, not a fitted SeparableConvFeatures"
        )
    return estimator


def _is_fitted(estimator):
    """Return True when scikit-learn deems ``estimator`` fitted."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _seed(args):
    """Return the seed of a run without ``--random-state``: an earlier run's, or a new one.

    The filters must be the same in every run that writes to one output, so
    a run that resumes another draws them from the seed that run recorded.
    """
    mark = None if args.overwrite else _mark(args.output)
    if mark and mark.get("seed") is not None:
        return mark["seed"]
    return int(np.random.SeedSequence().generate_state(1)[0])


def _digest(estimator):
    """Return a digest of the fitted filters: runs with other filters never share an output."""
    digest = hashlib.sha256()
    for array in (estimator.depthwise_kernel_, estimator.pointwise_kernel_, estimator.bias_):
        digest.update(b"none" if array is None else np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------
# Input and output


class NpyFile:
    """A ``.npy`` file as an array Dask reads chunk by chunk, in any process.

    A NumPy memory map would be pickled with all its data when the graph
    travels to the workers; this pickles as its path and maps the file at
    each read.
    """

    def __init__(self, path):
        self.path = path
        mapped = self._map()
        self.shape, self.dtype, self.ndim = mapped.shape, mapped.dtype, mapped.ndim

    def _map(self):
        return np.load(self.path, mmap_mode="r")

    def __getitem__(self, index):
        return np.array(self._map()[index])


def _read(path, chunk_size):
    """Return the input as a Dask array chunked along the samples only."""
    import dask.array as da

    # a URL (s3://...) is left to zarr and fsspec to find
    if "://" not in path and not os.path.exists(path):
        raise SystemExit(f"features: IN {path} does not exist")
    if path.endswith(".npy"):
        source = NpyFile(path)
        X = da.from_array(source, chunks=(_auto_chunk(source),) + source.shape[1:], asarray=True)
    else:
        try:
            X = da.from_zarr(path)
        except ValueError as exc:  # zarr's errors for a group or no array derive from it
            raise SystemExit(
                f"features: IN {path} is neither a zarr array (at the store's "
                f"root) nor a .npy file: {exc}"
            ) from None
    if chunk_size is not None:
        if chunk_size < 1:
            raise SystemExit(
                f"features: --chunk-size must be a positive integer; "
                f"received --chunk-size {chunk_size}"
            )
        X = X.rechunk({0: chunk_size})
    return X


def _auto_chunk(source):
    """Return how many images of ``source`` make about AUTO_CHUNK_BYTES, at least one."""
    image_bytes = source.dtype.itemsize * math.prod(source.shape[1:])
    return max(1, AUTO_CHUNK_BYTES // max(1, image_bytes))


def _written_blocks(path, fingerprint, overwrite):
    """Return what ``path`` already holds of this run's output.

    Returns
    -------
    True, list of int or None
        True when ``path`` holds this run's features, complete; the blocks
        an interrupted run of the same command wrote; None when there is
        nothing (or ``overwrite``): a new output.

    Raises
    ------
    SystemExit
        Naming the reason, for any other existing ``path`` unless ``overwrite``.
    """
    if not os.path.exists(path) or overwrite:
        return None
    mark = _mark(path)
    if mark and _same_run(mark, fingerprint):
        return True if mark.get("complete") else list(mark.get("done", []))
    reason = (
        "the features of another input, estimator or chunk size"
        if mark
        else "something this command did not write"
    )
    raise SystemExit(
        f"features: OUT {path} exists and holds {reason}; pass --overwrite to "
        "replace it, or remove it"
    )


def _same_run(mark, fingerprint):
    """Return True when ``mark`` was left by a run with this ``fingerprint``."""
    return all(mark.get(key) == value for key, value in fingerprint.items())


def _mark(path):
    """Return this command's mark in the zarr array at ``path``, or None."""
    import zarr

    try:
        mark = zarr.open_array(path, mode="r").attrs.get(MARK)
    except (ValueError, OSError):  # zarr's "no array here" errors derive from these
        return None
    return dict(mark) if isinstance(mark, dict) and mark else None


def _open_output(path, features, resume):
    """Open the output array to resume it, or create it with chunks one per task."""
    import zarr

    if resume:
        return zarr.open_array(path, mode="r+")
    return zarr.open_array(
        path,
        mode="w",
        shape=features.shape,
        dtype=features.dtype,
        chunks=(features.chunks[0][0], features.shape[1]),
    )


class _Ledger:
    """The output's mark: the run's fingerprint and the blocks written so far.

    Kept in the output's zarr attributes and rewritten as each block is
    written, by this process alone (zarr replaces the attribute file
    atomically), so an interrupted run leaves an exact list to resume from.
    """

    def __init__(self, target, fingerprint, seed, done):
        self.target, self.fingerprint, self.done = target, fingerprint, list(done)
        self.seed = seed
        self._lock = threading.Lock()
        self._save(complete=False)

    def finished(self, block, future):
        """Record ``block`` as written once its ``future`` has finished (a done callback)."""
        if future.status == "finished":
            with self._lock:
                self.done.append(block)
                self._save(complete=False)

    def complete(self):
        """Mark the output whole."""
        with self._lock:
            self._save(complete=True)

    def _save(self, complete):
        mark = {**self.fingerprint, "seed": _int_or_none(self.seed), "complete": complete}
        if not complete:
            mark["done"] = sorted(self.done)
        self.target.attrs[MARK] = mark


def _int_or_none(seed):
    """The seed as the mark records it: an int, or None (a RandomState is not recorded)."""
    return int(seed) if is_integer(seed) else None


def _compute(args, features, ledger, todo):
    """Write the blocks ``todo`` on the cluster, recording each in ``ledger`` as it finishes."""
    with _client(args) as client:
        print(f"cluster: {client}")
        futures = client.compute(_write_tasks(features, ledger.target, todo))
        for block, future in zip(todo, futures, strict=True):
            future.add_done_callback(functools.partial(ledger.finished, block))
        if args.progress:
            from distributed.diagnostics.progressbar import progress

            progress(futures, notebook=False)
            print()
        client.gather(futures)


def _write_tasks(features, target, blocks):
    """Return one Delayed per index in ``blocks``: that row block written to ``target``."""
    import dask

    bounds = np.cumsum((0, *features.chunks[0]))
    delayed = features.to_delayed().ravel()
    write = dask.delayed(_write, pure=False)
    return [write(delayed[i], target, slice(int(bounds[i]), int(bounds[i + 1]))) for i in blocks]


def _write(block, target, rows):
    """Write one block of features to its rows of the zarr array ``target``."""
    target[rows] = block


# Dask's nanny starts every worker with MALLOC_TRIM_THRESHOLD_=65536, which
# also pins glibc's mmap threshold at 128 KiB: every large block of a task
# (the chunk zarr reads, the feature maps) is then mapped fresh and its pages
# faulted in again on every task.  On the 4 GB benchmark (docs/scaling.md)
# that took a fifth of a worker's throughput and lowered no worker's peak
# memory.  This command's own cluster runs one job: its workers reuse blocks
# of up to 32 MiB and keep up to 64 MiB free at a heap's top, the most
# glibc's own adaptive thresholds reach.  Set explicitly rather than unset,
# so that it is visible; a variable already in this process's environment
# wins over the configuration (the user's, or one a nanny wrote there).
_LOCAL_WORKER_ENVIRON = {
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 32 * 2**20,
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 64 * 2**20,
}


@contextlib.contextmanager
def _client(args):
    """Yield a ``distributed.Client``: of ``--scheduler``, or of a local cluster closed after."""
    import dask
    from distributed import Client, LocalCluster

    if args.scheduler:
        with Client(args.scheduler) as client:
            yield client
        return
    with (
        # for the cluster's whole life: a nanny reads it again to restart a worker
        dask.config.set(_LOCAL_WORKER_ENVIRON),
        LocalCluster(
            n_workers=args.n_workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client
