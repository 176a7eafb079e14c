"""Extreme arguments for every public entry point, and what each call must give.

Shared by ``tests/test_robustness.py`` (a bounded budget) and
``tools/fuzz.py`` (a long run).  A call must return the right answer or
raise ``ValueError``, ``TypeError`` or ``MemoryError`` with a message; never
a signal, never a hang.  The oracle is the definition evaluated output pixel
by output pixel (no padded copy), so dilations and paddings of any size
cost nothing; nothing here imports sepconv's internals.
"""

import math

import numpy as np
import reference_grad
from hypothesis import strategies as st

# The exceptions a call may raise on a bad or impossible request.
DOCUMENTED = (ValueError, TypeError, MemoryError)

# Above this many multiply-adds the oracle is skipped (shape and dtype are still checked).
ORACLE_MACS = 200_000

SIZES = st.sampled_from([0, 1, 2, 3, 5, 8, 9, 17, 17])
STEPS = st.one_of(st.integers(1, 4), st.sampled_from([7, 1000, 30000, 2**31 - 1, 2**40]))
KERNELS = st.one_of(st.integers(1, 4), st.sampled_from([7, 31, 200]))
# valid values repeated, so that most calls get past validation
THREADS = st.sampled_from([None, None, 1, 2, 2, 3, -1, -2, 10**9, 2**31, 0, -(10**9), 2.0, "2"])
DTYPES = st.sampled_from(
    [
        np.float32,
        np.float32,
        np.float32,
        np.float64,
        np.float64,
        np.float16,
        np.int8,
        np.uint16,
        np.bool_,
        np.complex64,
        object,
        "U1",
    ]
)
LAYOUTS = st.sampled_from(["channels_last", "channels_first"])
# what the array holding x looks like in memory
STORAGE = st.sampled_from(
    ["plain", "read-only", "misaligned", "fortran", "strided", "broadcast", "memmap"]
)


def output_size(n, k, s, d, padding):
    """Output length and zeros before along one axis (the spec's arithmetic)."""
    span = d * (k - 1) + 1
    if padding == "valid":
        return (n - span) // s + 1, 0
    out = math.ceil(n / s)
    return out, max((out - 1) * s + span - n, 0) // 2


def direct_depthwise(x, dk, strides, dilation, padding):
    """Depthwise convolution of NHWC ``x``, one output pixel and tap at a time (float64)."""
    n, h, w, c = x.shape
    kh, kw, _, dm = dk.shape
    ho, pt = output_size(h, kh, strides[0], dilation[0], padding)
    wo, pl = output_size(w, kw, strides[1], dilation[1], padding)
    out = np.zeros((n, max(ho, 0), max(wo, 0), c, dm))
    for i in range(max(ho, 0)):
        for p in range(kh):
            row = i * strides[0] - pt + p * dilation[0]
            if not 0 <= row < h:
                continue
            for j in range(max(wo, 0)):
                for q in range(kw):
                    col = j * strides[1] - pl + q * dilation[1]
                    if 0 <= col < w:
                        out[:, i, j] += x[:, row, col, :, None] * dk[p, q]
    return out.reshape(n, max(ho, 0), max(wo, 0), c * dm)


def stored(array, storage, tmp_path):
    """``array`` (float) as ``storage`` says: views, memmaps and odd buffers of the same values."""
    if storage == "read-only":
        array = array.copy()
        array.flags.writeable = False
    elif storage == "misaligned":
        raw = np.zeros(array.nbytes + 1, np.uint8)
        view = np.frombuffer(raw.data, array.dtype, array.size, offset=1).reshape(array.shape)
        view[...] = array
        array = view
    elif storage == "fortran":
        array = np.asfortranarray(array)
    elif storage == "strided":
        wide = np.zeros(array.shape[:-1] + (2 * array.shape[-1],), array.dtype)
        wide[..., ::2] = array
        array = wide[..., ::2]
    elif storage == "broadcast":
        array = np.broadcast_to(array[:1], array.shape)
    elif storage == "memmap":
        path = tmp_path / f"x{np.random.default_rng().integers(1 << 30)}.npy"
        np.save(path, array)
        array = np.load(path, mmap_mode="r")
    return array


@st.composite
def calls(draw, wide=False):
    """One call: (entry point name, x, kernels, keyword arguments).

    ``wide``: separable and pointwise calls whose pointwise matrix is larger
    than a tile's budget (256-300 channels -> 520-1100 filters), so that the
    small batches among them take the filter-slice schedule (see
    _tiling.filter_slices).
    """
    entries = ["separable_conv2d", "pointwise_conv2d"]
    entry = draw(st.sampled_from(entries if wide else [*entries, "depthwise_conv2d"]))
    n, h, w = draw(SIZES), draw(SIZES), draw(SIZES)
    c = draw(st.sampled_from([256, 300] if wide else [1, 3, 16, 16, 0]))
    kh, kw = draw(KERNELS), draw(KERNELS)
    dm = draw(st.sampled_from([1, 1, 1, 2] if wide else [1, 1, 2, 0]))
    filters = draw(st.sampled_from([520, 1100] if wide else [1, 5, 5, 0]))
    layout = draw(LAYOUTS)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    dtype = draw(DTYPES)
    x = rng.uniform(-1, 1, (n, h, w, c))
    dk = rng.uniform(-1, 1, (kh, kw, c, dm))
    pk = rng.uniform(-1, 1, (1, 1, c * dm if entry == "separable_conv2d" else c, filters))
    kwargs = {"data_format": layout, "n_threads": draw(THREADS)}
    if entry != "pointwise_conv2d":
        kwargs.update(
            strides=(draw(STEPS), draw(STEPS)),
            dilation_rate=(draw(STEPS), draw(STEPS)),
            padding=draw(st.sampled_from(["valid", "same", "same", "SAME", "full", 3])),
        )
    return entry, x, dk, pk, dtype, draw(STORAGE), kwargs


def expected(entry, x, dk, pk, kwargs):
    """The oracle's answer in channels_last float64, or None when it would be too slow."""
    if entry == "pointwise_conv2d":
        return (
            np.einsum("nhwk,kf->nhwf", x, pk[0, 0]) if x.size * pk.shape[-1] < ORACLE_MACS else None
        )
    geometry = (kwargs["strides"], kwargs["dilation_rate"], kwargs["padding"].lower())
    outs = [
        output_size(n, k, s, d, geometry[2])[0]
        for n, k, s, d in zip(x.shape[1:3], dk.shape[:2], *geometry[:2], strict=True)
    ]
    if x.shape[0] * outs[0] * outs[1] * dk.shape[0] * dk.shape[1] * dk.shape[2] > ORACLE_MACS:
        return None
    d = direct_depthwise(x, dk, *geometry)
    return d if entry == "depthwise_conv2d" else np.einsum("nhwk,kf->nhwf", d, pk[0, 0])


def _prepared(call, tmp_path):
    """The call's arguments as sepconv gets them, and the oracle's float64 NHWC input.

    Returns ``(args, kwargs, reference_x, wide, dk, pk)``: ``reference_x``
    is None for inputs that are not real numbers (the call must refuse
    them); ``dk`` and ``pk`` are both kernels as given, whichever the entry
    point takes.
    """
    entry, x, dk, pk, dtype, storage, kwargs = call
    wide = np.dtype(dtype) == np.float64
    kernel_dtype = np.float64 if wide else np.float32
    real = np.dtype(dtype).kind in "fiub"
    xs = x.astype(dtype)
    dk, pk = dk.astype(kernel_dtype), pk.astype(kernel_dtype)
    first = kwargs["data_format"] == "channels_first"
    given = np.moveaxis(xs, 3, 1) if first else xs
    if real and given.size and storage != "plain":
        given = stored(np.ascontiguousarray(given), storage, tmp_path)
    # the values as stored ("broadcast" repeats the first image)
    reference_x = np.asarray(given, dtype=np.float64) if real else None
    if real and first:
        reference_x = np.moveaxis(reference_x, 1, 3)
    args = (
        (given, pk)
        if entry == "pointwise_conv2d"
        else (given, dk) + ((pk,) if entry == "separable_conv2d" else ())
    )
    return args, kwargs, reference_x, wide, dk, pk


def run(call, tmp_path):
    """Make one call; return its outcome ("result", "result, not checked" or an
    exception's name) or raise AssertionError where the call went wrong."""
    import sepconv

    entry = call[0]
    args, kwargs, reference_x, wide, dk, pk = _prepared(call, tmp_path)
    try:
        y = getattr(sepconv, entry)(*args, **kwargs)
    except DOCUMENTED as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return type(exc).__name__
    want = expected(entry, reference_x, dk.astype(np.float64), pk.astype(np.float64), kwargs)
    out_dtype = np.float64 if wide else np.float32
    assert y.dtype == out_dtype, (y.dtype, out_dtype)
    if kwargs["data_format"] == "channels_first":
        y = np.moveaxis(y, 1, 3)
    if want is None:
        return "result, not checked"
    assert y.shape == want.shape, (y.shape, want.shape)
    taps = dk.shape[0] * dk.shape[1] * max(dk.shape[2], 1) * max(pk.shape[-1], 1) + 1
    tolerance = (1e-12 if wide else 1e-5) * taps
    np.testing.assert_allclose(y, want, rtol=tolerance, atol=tolerance)
    return "result"


# The gradient function of each entry point, and the names of its gradients
# in the order of the entry point's arguments.
GRADIENTS = {
    "separable_conv2d": ("separable_conv2d_grad", ("x", "depthwise_kernel", "pointwise_kernel")),
    "depthwise_conv2d": ("depthwise_conv2d_grad", ("x", "depthwise_kernel")),
    "pointwise_conv2d": ("pointwise_conv2d_grad", ("x", "pointwise_kernel")),
}


def run_grad(call, tmp_path):
    """The gradients of one call with ``dy`` shaped like its output.

    Returns the outcome as :func:`run` does.  A call the forward function
    refuses is not made; otherwise the gradient function must give every
    gradient shaped like its argument in the output's dtype (or refuse with
    a message: the backward pass may need more memory than the forward), and
    the reference's values where its padded copy of the input is small.
    """
    import sepconv

    entry = call[0]
    args, kwargs, reference_x, wide, _, _ = _prepared(call, tmp_path)
    try:
        y = getattr(sepconv, entry)(*args, **kwargs)
    except DOCUMENTED:
        return "forward refused"
    dy = np.random.default_rng(0).uniform(-1, 1, y.shape).astype(y.dtype)
    function, names = GRADIENTS[entry]
    try:
        grads = getattr(sepconv, function)(dy, *args, **kwargs)
    except DOCUMENTED as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return "gradients: " + type(exc).__name__
    for name, arg in zip(names, args, strict=True):
        assert grads[name].shape == np.shape(arg), (name, grads[name].shape, np.shape(arg))
        assert grads[name].dtype == y.dtype, (name, grads[name].dtype, y.dtype)
    want = _reference_grads(entry, dy, reference_x, args, kwargs)
    if want is None:
        return "gradients, not checked"
    first = kwargs["data_format"] == "channels_first"
    got = dict(grads, x=np.moveaxis(grads["x"], 1, 3) if first else grads["x"])
    # each gradient is a sum of at most this many products of values in [-1, 1]
    terms = max(y.size, np.size(args[0])) * max(1, *(np.size(a) for a in args[1:]))
    tolerance = (1e-15 if wide else 1e-7) * terms
    for name in names:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-6, atol=tolerance)
    return "gradients"


def _reference_grads(entry, dy, x, args, kwargs):
    """reference_grad's gradients in NHWC float64, or None where they would be too costly."""
    if x.size == 0 or dy.size == 0:
        return None  # (the reference needs values; the shapes are checked)
    first = kwargs["data_format"] == "channels_first"
    dy = np.moveaxis(dy, 1, 3) if first else dy
    if entry == "pointwise_conv2d":
        dx, dpk, _ = reference_grad.pointwise_grad(dy, x, args[1])
        return {"x": dx, "pointwise_kernel": dpk.reshape(np.shape(args[1]))}
    dk = np.asarray(args[1], dtype=np.float64)
    geometry = (kwargs["strides"], kwargs["padding"].lower(), kwargs["dilation_rate"])
    _, pads = reference_grad._padded_geometry(x.shape, dk.shape, *geometry)
    padded = (x.shape[1] + sum(pads[1])) * (x.shape[2] + sum(pads[2])) * x.shape[0] * x.shape[3]
    if padded * dk.shape[0] * dk.shape[1] > 20 * ORACLE_MACS:
        return None
    if entry == "depthwise_conv2d":
        dx, ddk = reference_grad.depthwise_grad(dy, x, dk, *geometry)
        return {"x": dx, "depthwise_kernel": ddk}
    want = reference_grad.separable_grad(dy, x, dk, args[2], None, *geometry)
    want["pointwise_kernel"] = want["pointwise_kernel"].reshape(np.shape(args[2]))
    return want


# Constructor values for the layer and the transformer, sensible and not.
# (valid values repeated, so that most get past validation)
COUNTS = st.sampled_from([1, 2, 4] * 4 + [0, -1, 10**12, 2.5, "4", None])
KERNEL_SIZES = st.sampled_from([1, 3, (3, 5), 31, 2**40] * 3 + [0, (3,), "3", (2, 2, 2)])
FACE_STEPS = st.sampled_from([1, 2, (1, 3), 2**31 - 1] * 3 + [0, -2, (1,), 1.5])


@st.composite
def face_calls(draw):
    """One layer or transformer: (face, constructor arguments, images)."""
    face = draw(st.sampled_from(["layer", "transformer"]))
    params = {
        "filters": draw(COUNTS),
        "kernel_size": draw(KERNEL_SIZES),
        "strides": draw(FACE_STEPS),
        "dilation_rate": draw(FACE_STEPS),
        "padding": draw(st.sampled_from(["valid", "same", "same", "full"])),
        "depth_multiplier": draw(COUNTS),
    }
    shape = (draw(st.sampled_from([1, 3])), draw(SIZES), draw(SIZES), draw(st.sampled_from([1, 3])))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).uniform(-1, 1, shape)
    return face, params, x.astype(np.float32)


def run_face(call):
    """Build and apply one layer or transformer; return its outcome as :func:`run` does."""
    import sepconv

    face, params, x = call
    try:
        if face == "layer":
            layer = sepconv.SeparableConv2D(**params)
            y = layer(x)
            want = layer.compute_output_shape(x.shape)
        else:
            if params["depth_multiplier"] is None:
                params["depth_multiplier"] = "auto"
            model = sepconv.SeparableConvFeatures(random_state=0, **params)
            y = model.fit(x).transform(x)
            want = (x.shape[0], model.get_feature_names_out().size)
    except DOCUMENTED as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return type(exc).__name__
    assert tuple(y.shape) == tuple(want), (y.shape, want)
    assert np.isfinite(y).all()
    return "result"
