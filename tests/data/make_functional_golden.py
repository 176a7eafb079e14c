"""Make functional_golden.npz: separable and depthwise convolutions computed by TensorFlow.

Made with TensorFlow 2.21.0 and Keras 3.15.1 (TensorFlow backend), NumPy 2.4,
on x86-64 Linux; the versions that ran are stored in the file too.  Run from
the repository root:

    python tests/data/make_functional_golden.py

``tf.nn.separable_conv2d`` / ``tf.nn.depthwise_conv2d`` compute each case,
except those with strides and dilation both above 1, where ``tf.nn`` gives
wrong output shapes: ``keras.ops.separable_conv`` / ``keras.ops.depthwise_conv``
compute those exactly.  TensorFlow's CPU kernels take unequal strides in
float32 only (through oneDNN), so the unequal-stride cases are float32.
The bias is added by ``tf.nn.bias_add``.  Inputs are NHWC, drawn from [-1, 1] with a fixed seed.

File layout: ``cases`` is a JSON list of case descriptions (name, op, engine,
strides, dilation_rate, padding, dtype, bias); ``versions`` a JSON object; each
case ``NAME`` stores ``NAME/x``, ``NAME/depthwise_kernel``, for separable cases
``NAME/pointwise_kernel``, ``NAME/bias`` when it has one, and ``NAME/y``.
"""

import json
import os

import keras
import numpy as np
import tensorflow as tf

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "functional_golden.npz")

# name: (x shape (N, H, W, C), kernel (kh, kw), depth multiplier, filters, strides,
#        dilation, padding, dtype, bias)
SEPARABLE = {
    "valid_1x1": ((1, 5, 4, 3), (1, 1), 1, 2, (1, 1), (1, 1), "valid", "f4", True),
    "valid_3x3": ((2, 8, 7, 3), (3, 3), 1, 4, (1, 1), (1, 1), "valid", "f4", True),
    "same_3x3": ((2, 8, 7, 3), (3, 3), 1, 4, (1, 1), (1, 1), "same", "f4", False),
    "same_even_kernel": ((1, 7, 6, 2), (4, 2), 1, 3, (1, 1), (1, 1), "same", "f4", True),
    "same_stride2_odd": ((2, 9, 9, 4), (3, 3), 2, 5, (2, 2), (1, 1), "same", "f4", True),
    "same_stride2_even": ((1, 8, 10, 3), (3, 3), 1, 4, (2, 2), (1, 1), "same", "f8", True),
    "valid_stride3": ((1, 11, 10, 2), (2, 3), 3, 3, (3, 3), (1, 1), "valid", "f4", True),
    "valid_unequal_strides": ((2, 9, 10, 5), (3, 2), 1, 6, (1, 2), (1, 1), "valid", "f4", True),
    "same_unequal_strides": ((1, 9, 10, 3), (3, 3), 2, 4, (3, 1), (1, 1), "same", "f4", True),
    "valid_dilation2": ((1, 9, 9, 3), (3, 3), 1, 4, (1, 1), (2, 2), "valid", "f4", True),
    "same_dilation_unequal": ((2, 8, 9, 4), (3, 2), 2, 3, (1, 1), (2, 3), "same", "f8", False),
    "same_kernel_larger": ((1, 3, 4, 2), (5, 7), 1, 3, (1, 1), (1, 1), "same", "f4", True),
    "same_wide_channels": ((1, 6, 6, 12), (3, 3), 1, 16, (1, 1), (1, 1), "same", "f4", True),
    "valid_wide_channels_dm3": ((1, 7, 6, 5), (3, 3), 3, 9, (2, 2), (1, 1), "valid", "f8", True),
    "image_1x1_same": ((2, 1, 1, 4), (3, 3), 2, 3, (1, 1), (1, 1), "same", "f4", True),
    "stride2_dilation2_valid": ((1, 11, 12, 3), (3, 3), 1, 4, (2, 2), (2, 2), "valid", "f4", True),
    "stride2_dilation2_same": ((2, 10, 9, 3), (3, 3), 2, 4, (2, 2), (2, 2), "same", "f4", True),
    "stride_dilation_unequal": ((1, 12, 11, 10), (3, 2), 1, 5, (2, 3), (3, 2), "same", "f8", True),
}
# name: (x shape, kernel, depth multiplier, strides, dilation, padding, dtype)
DEPTHWISE = {
    "dw_valid": ((2, 7, 8, 3), (3, 3), 1, (1, 1), (1, 1), "valid", "f4"),
    "dw_same_dm2": ((1, 8, 7, 4), (2, 3), 2, (1, 1), (1, 1), "same", "f8"),
    "dw_same_stride2": ((1, 9, 8, 3), (3, 3), 1, (2, 2), (1, 1), "same", "f4"),
    "dw_dilation": ((1, 9, 9, 10), (3, 3), 1, (1, 1), (2, 2), "same", "f4"),
    "dw_stride_dilation": ((1, 11, 10, 3), (3, 3), 3, (2, 2), (2, 3), "valid", "f4"),
}


def _engine(strides, dilation):
    return "keras.ops" if max(strides) > 1 and max(dilation) > 1 else "tf.nn"


def _compute(op, engine, x, dk, pk, strides, dilation, padding):
    if engine == "keras.ops":
        if op == "separable":
            y = keras.ops.separable_conv(
                x, dk, pk, strides=strides, padding=padding, dilation_rate=dilation
            )
        else:
            y = keras.ops.depthwise_conv(
                x, dk, strides=strides, padding=padding, dilation_rate=dilation
            )
    elif op == "separable":
        y = tf.nn.separable_conv2d(
            x, dk, pk, strides=[1, *strides, 1], padding=padding.upper(), dilations=dilation
        )
    else:
        y = tf.nn.depthwise_conv2d(
            x, dk, strides=[1, *strides, 1], padding=padding.upper(), dilations=dilation
        )
    return np.asarray(y)


def _cases():
    """Every case as (name, op, x shape, kernel, dm, filters, strides, dilation, padding,
    dtype name, bias)."""
    for name, (x, k, dm, f, s, d, pad, dtype, bias) in SEPARABLE.items():
        yield name, "separable", x, k, dm, f, s, d, pad, np.dtype(dtype).name, bias
    for name, (x, k, dm, s, d, pad, dtype) in DEPTHWISE.items():
        yield name, "depthwise", x, k, dm, None, s, d, pad, np.dtype(dtype).name, False


def main():
    rng = np.random.default_rng(20240611)
    arrays, described = {}, []
    for (
        name,
        op,
        x_shape,
        kernel,
        dm,
        filters,
        strides,
        dilation,
        padding,
        dtype,
        use_bias,
    ) in _cases():
        engine = _engine(strides, dilation)
        c = x_shape[-1]
        x = rng.uniform(-1, 1, x_shape).astype(dtype)
        dk = rng.uniform(-1, 1, (*kernel, c, dm)).astype(dtype)
        pk = rng.uniform(-1, 1, (1, 1, c * dm, filters)).astype(dtype) if filters else None
        y = _compute(op, engine, x, dk, pk, strides, dilation, padding)
        arrays.update({f"{name}/x": x, f"{name}/depthwise_kernel": dk})
        if pk is not None:
            arrays[f"{name}/pointwise_kernel"] = pk
        if use_bias:
            bias = rng.uniform(-1, 1, filters).astype(dtype)
            arrays[f"{name}/bias"] = bias
            y = np.asarray(tf.nn.bias_add(y, bias))
        assert y.dtype == dtype
        arrays[f"{name}/y"] = y
        described.append(
            {
                "name": name,
                "op": op,
                "engine": engine,
                "strides": strides,
                "dilation_rate": dilation,
                "padding": padding,
                "dtype": dtype,
                "bias": use_bias,
            }
        )
    versions = {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__}
    np.savez_compressed(
        OUT,
        cases=np.array(json.dumps(described)),
        versions=np.array(json.dumps(versions)),
        **arrays,
    )
    print(f"wrote {len(described)} cases to {OUT} with {versions}")


if __name__ == "__main__":
    main()
