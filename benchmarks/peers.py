"""The libraries the comparison times: sepconv and its peers.

Each library is imported lazily, inside the fresh process that times it,
after its thread count is set: TensorFlow only accepts thread settings before
it initialises, and a library loaded beside another could share or fight over
its thread pools.  A library whose module is absent is reported as skipped.

Every library gets the same operands (:func:`shapes.make_data`, channels-last)
and is run in its best layout: ONNX Runtime takes NCHW, converted before
timing; TensorFlow and sepconv take NHWC as given; PyTorch runs twice, on NCHW
(``pytorch``) and on its channels_last NHWC (``pytorch-nhwc``).  The
channels-first shapes (S1CF, S7CF) give NCHW operands: sepconv takes them with
``data_format="channels_first"``, ONNX Runtime and PyTorch's NCHW as given, and
the NHWC-only runs (TensorFlow's CPU kernels, ``pytorch-nhwc``) skip them.
``prepare`` returns the timed call and a function turning its result into a
channels-last NumPy array, so outputs can be checked against sepconv's outside
the timed region.
"""

import importlib
import importlib.util
import os

import numpy as np
from shapes import same_padding

__all__ = [
    "LIBRARIES",
    "Unsupported",
    "available",
    "get",
    "reference",
    "require_channels_last",
    "sepconv_forward",
]


class Unsupported(Exception):
    """The library cannot run this case (for example ONNX Runtime in float64)."""


def _nchw(shape, array):
    """``array`` (in ``shape``'s layout) as C-contiguous NCHW, copied if NHWC (before timing)."""
    if shape.data_format == "channels_first":
        return array
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2))


def require_channels_last(shape, library):
    """Raise :class:`Unsupported` for a channels-first shape: ``library`` runs NHWC only."""
    if shape.data_format == "channels_first":
        raise Unsupported(f"{library} runs on NHWC; the channels-first shapes time NCHW")


def _nhwc(array):
    """An NHWC view of an NCHW array (done after timing)."""
    return array.transpose(0, 2, 3, 1)


def _pads(shape):
    """``same`` padding per axis as ``((top, bottom), (left, right))``."""
    return (
        same_padding(shape.h, shape.k, shape.stride, shape.dilation),
        same_padding(shape.w, shape.k, shape.stride, shape.dilation),
    )


def _oihw_weights(shape, data):
    """Depthwise ``(C*dm, 1, k, k)`` and pointwise ``(F, C*dm, 1, 1)`` filters.

    Depthwise output channel ``c * dm + m`` reads input channel ``c``, which
    is also how grouped convolution orders its outputs, so TensorFlow's
    ``(k, k, C, dm)`` reshapes to ``(k, k, C*dm)`` without reordering.
    """
    depthwise = data["depthwise"].reshape(shape.k, shape.k, shape.c * shape.dm)
    depthwise = np.ascontiguousarray(depthwise.transpose(2, 0, 1)[:, None])
    pointwise = np.ascontiguousarray(data["pointwise"][0, 0].T[:, :, None, None])
    return depthwise, pointwise


class Library:
    """How to time one library; subclasses fill in ``prepare`` and, if needed, ``configure``.

    Attributes
    ----------
    name : str
        Key used on the command line, in tables and in the JSON.
    module : str
        Import name used to test whether the library is installed.
    floor : bool
        Not a peer but a bound (:class:`BlasFloor`): never the fastest peer,
        its output not checked, its memory not measured.
    """

    name = ""
    module = ""
    floor = False

    def available(self):
        """Whether the library can be imported here (without importing it)."""
        return importlib.util.find_spec(self.module) is not None

    def version(self):
        """The installed version string (imports the library)."""
        return importlib.import_module(self.module).__version__

    def configure(self, threads):
        """Import the library and limit it to ``threads``; called once per process.

        By default only imports it: sepconv and ONNX Runtime take their
        thread count per call or per session.
        """
        importlib.import_module(self.module)

    def prepare(self, shape, data, threads):
        """Return ``(call, to_nhwc)`` for one case; conversions happen here, untimed."""
        raise NotImplementedError


class BlasFloor(Library):
    """Not a peer: the layer's pointwise GEMM alone through SciPy's BLAS, the floor of sepconv.

    One GEMM of all the layer's pixels (``N * H_out * W_out`` x ``C * dm``
    times ``C * dm`` x ``F``, channels-last, added onto an output already in
    memory) on BLAS's own threads (the worker sets ``OPENBLAS_NUM_THREADS``):
    no depthwise step, no bias fill, no tiles.  A layer whose pointwise step
    goes through this BLAS does not run faster than this, whatever its
    schedule; where this is slower than a peer's whole layer, only a faster
    GEMM than SciPy's BLAS could beat that peer.  Excluded from the fastest
    peer; its output is not the layer's and is not checked.
    """

    name = "blas-floor"
    module = "scipy"
    floor = True

    def version(self):
        import scipy

        from sepconv._native import _blas  # finds SciPy's OpenBLAS, not NumPy's

        blas = _blas._scipys_library()
        name = f"{blas['internal_api']} {blas['version']}" if blas else "BLAS unknown"
        return f"scipy {scipy.__version__} ({name})"

    def prepare(self, shape, data, threads):
        from scipy.linalg.blas import get_blas_funcs

        pixels = shape.n * shape.out_hw[0] * shape.out_hw[1]
        matrix = data["pointwise"].reshape(shape.c * shape.dm, shape.f)
        depthwise = np.random.default_rng(1).standard_normal(
            (pixels, matrix.shape[0]), dtype=matrix.dtype
        )
        out = np.zeros((pixels, shape.f), dtype=matrix.dtype)
        gemm = get_blas_funcs("gemm", dtype=matrix.dtype)

        def call():
            # out^T (column-major F x pixels) += matrix^T @ depthwise^T, in place
            return gemm(1.0, matrix.T, depthwise.T, beta=1.0, c=out.T, overwrite_c=True)

        return call, np.asarray


class Sepconv(Library):
    """sepconv itself: the shape's layout in and out, ``n_threads`` per call."""

    name = "sepconv"
    module = "sepconv"

    def prepare(self, shape, data, threads):
        to_nhwc = _nhwc if shape.data_format == "channels_first" else np.asarray
        return (lambda: sepconv_forward(shape, data, threads)), to_nhwc


def sepconv_forward(shape, data, threads):
    """``sepconv.separable_conv2d`` on one case's operands, on ``threads`` threads."""
    import sepconv

    return sepconv.separable_conv2d(
        data["x"],
        data["depthwise"],
        data["pointwise"],
        data["bias"],
        strides=shape.stride,
        padding="same",
        dilation_rate=shape.dilation,
        data_format=shape.data_format,
        n_threads=threads,
    )


def reference(shape, data, threads=1):
    """sepconv's output for a case as NHWC, the checks' reference."""
    call, to_nhwc = LIBRARIES["sepconv"].prepare(shape, data, threads)
    return to_nhwc(call())


class PyTorch(Library):
    """``conv2d`` with ``groups=C`` then a 1x1 ``conv2d`` with bias.

    ``memory_format`` picks the input's layout: ``contiguous_format`` is NCHW,
    copied from the NHWC data before timing; ``channels_last`` is PyTorch's
    NHWC, a view of the data as given.  Which is faster depends on the shape
    and the build (oneDNN takes channels_last), so both are peers.
    """

    module = "torch"

    def __init__(self, name, memory_format):
        self.name = name
        self.memory_format = memory_format

    def configure(self, threads):
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)

    def prepare(self, shape, data, threads):
        import torch
        import torch.nn.functional as F

        if self.memory_format == "channels_last":
            require_channels_last(shape, self.name)
        x = torch.from_numpy(_nchw(shape, data["x"]))
        x = x.contiguous(memory_format=getattr(torch, self.memory_format))
        depthwise, pointwise = (torch.from_numpy(w) for w in _oihw_weights(shape, data))
        bias = torch.from_numpy(data["bias"])
        (top, bottom), (left, right) = _pads(shape)
        # conv2d pads both sides alike; an odd total (S5) needs an explicit,
        # timed pad, which is what a PyTorch user has to write too.
        symmetric = top == bottom and left == right

        def call():
            with torch.inference_mode():
                if symmetric:
                    y = F.conv2d(
                        x, depthwise, None, shape.stride, (top, left), shape.dilation, shape.c
                    )
                else:
                    y = F.conv2d(
                        F.pad(x, (left, right, top, bottom)),
                        depthwise,
                        None,
                        shape.stride,
                        0,
                        shape.dilation,
                        shape.c,
                    )
                return F.conv2d(y, pointwise, bias)

        return call, lambda out: _nhwc(out.numpy())


class TensorFlow(Library):
    """``tf.nn.separable_conv2d`` plus ``bias_add`` in a ``tf.function``, NHWC."""

    name = "tensorflow"
    module = "tensorflow"

    def configure(self, threads):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        # Each case traces its own tf.function, which TensorFlow warns about.
        tf.get_logger().setLevel("ERROR")
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    def prepare(self, shape, data, threads):
        import tensorflow as tf

        require_channels_last(shape, self.name)
        x = tf.constant(data["x"])
        depthwise, pointwise, bias = (
            tf.constant(data[key]) for key in ("depthwise", "pointwise", "bias")
        )
        stride = [1, shape.stride, shape.stride, 1]
        dilations = [shape.dilation, shape.dilation]

        @tf.function
        def forward(x):
            y = tf.nn.separable_conv2d(x, depthwise, pointwise, stride, "SAME", dilations=dilations)
            return tf.nn.bias_add(y, bias)

        # .numpy() waits for the result; on the CPU it shares the buffer.
        return (lambda: forward(x).numpy()), np.asarray


class OnnxRuntime(Library):
    """A two-node ONNX graph (depthwise Conv ``group=C``, 1x1 Conv with bias), NCHW."""

    name = "onnxruntime"
    module = "onnxruntime"

    def prepare(self, shape, data, threads):
        import onnxruntime as ort

        if data["x"].dtype != np.float32:
            raise Unsupported("ONNX Runtime's CPU Conv has no float64 kernel")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(
            _onnx_model(shape, data).SerializeToString(),
            options,
            providers=["CPUExecutionProvider"],
        )
        feed = {"x": _nchw(shape, data["x"])}
        return (lambda: session.run(None, feed)[0]), _nhwc


def _onnx_model(shape, data):
    """The ONNX model (opset 17, IR 8) of one separable convolution."""
    from onnx import TensorProto, helper, numpy_helper

    depthwise, pointwise = _oihw_weights(shape, data)
    (top, bottom), (left, right) = _pads(shape)
    conv = {"strides": [shape.stride] * 2, "dilations": [shape.dilation] * 2}
    nodes = [
        helper.make_node(
            "Conv",
            ["x", "depthwise"],
            ["mid"],
            group=shape.c,
            kernel_shape=[shape.k] * 2,
            pads=[top, left, bottom, right],
            **conv,
        ),
        helper.make_node("Conv", ["mid", "pointwise", "bias"], ["y"], kernel_shape=[1, 1]),
    ]
    graph = helper.make_graph(
        nodes,
        "separable_conv2d",
        [
            helper.make_tensor_value_info(
                "x", TensorProto.FLOAT, [shape.n, shape.c, shape.h, shape.w]
            )
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [shape.n, shape.f, *shape.out_hw])],
        initializer=[
            numpy_helper.from_array(depthwise, "depthwise"),
            numpy_helper.from_array(pointwise, "pointwise"),
            numpy_helper.from_array(data["bias"], "bias"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # the oldest IR with opset 17: loads in older runtimes too
    return model


LIBRARIES = {
    library.name: library
    for library in (
        Sepconv(),
        BlasFloor(),
        PyTorch("pytorch", "contiguous_format"),
        PyTorch("pytorch-nhwc", "channels_last"),
        TensorFlow(),
        OnnxRuntime(),
    )
}


def get(name, libraries=None):
    """Return the library called ``name`` in ``libraries`` (default: :data:`LIBRARIES`).

    Raises
    ------
    ValueError
        If ``name`` is not one of them.
    """
    libraries = LIBRARIES if libraries is None else libraries
    if name not in libraries:
        raise ValueError(f"`library` must be one of {', '.join(libraries)}; got {name!r}")
    return libraries[name]


def available(libraries=None):
    """Names of the libraries installed here, sepconv first (default: :data:`LIBRARIES`)."""
    libraries = LIBRARIES if libraries is None else libraries
    return [name for name, library in libraries.items() if library.available()]
