"""Make the gradient golden files in tests/data/gradients/ with PyTorch and TensorFlow.

Run from the repository root with a Python that has PyTorch and Keras 3
(TensorFlow backend):

    python tests/data/make_gradient_golden.py

Per case: random input, kernels, bias and upstream gradient ``dy`` (float64,
NHWC), and the gradients of ``sum(separable(x) * dy)`` with respect to the
input and the three weights, computed by PyTorch autograd (a grouped
convolution and a 1x1 convolution, explicit zero padding) and by
TensorFlow's ``GradientTape`` through a Keras 3 ``SeparableConv2D``.
tests/test_gradients_golden.py compares sepconv with both, without either;
tests/test_gradients_live.py runs these functions live on random cases.
"""

import json
import math
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gradients")

# name: (input NHWC, kernel, depth multiplier, filters, strides, dilation, padding, relu);
# unequal strides only with dilation: TensorFlow's CPU depthwise kernel refuses
# them otherwise (Keras 3 runs a dilated convolution at stride 1 and samples it)
CASES = {
    "same_3x3": ((2, 9, 8, 3), (3, 3), 1, 4, (1, 1), (1, 1), "same", False),
    "same_stride2_relu": ((2, 9, 10, 4), (3, 3), 2, 5, (2, 2), (1, 1), "same", True),
    "valid_dilation_dm3": ((1, 11, 9, 2), (3, 2), 3, 3, (1, 1), (2, 3), "valid", False),
    "stride_with_dilation": ((2, 12, 11, 3), (3, 3), 1, 4, (2, 3), (2, 1), "same", True),
    "valid_even_kernel_wide": ((1, 7, 13, 10), (4, 2), 1, 6, (3, 3), (1, 1), "valid", True),
    "same_kernel_larger_than_image": ((2, 3, 4, 2), (5, 5), 2, 3, (2, 2), (1, 1), "same", False),
}


def pads(n, k, s, d, padding):
    """Zeros before and after one spatial axis (Keras: half the total before, rounded down)."""
    if padding == "valid":
        return 0, 0
    out = math.ceil(n / s)
    total = max((out - 1) * s + d * (k - 1) + 1 - n, 0)
    return total // 2, total - total // 2


def case_arrays(name):
    """``x, dk, pk, bias, dy`` of a case, float64, NHWC (seeded by its name)."""
    shape, kernel, dm, filters, strides, dilation, padding, _ = CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    c = shape[3]
    x = rng.standard_normal(shape)
    dk = rng.standard_normal((*kernel, c, dm)) / 2
    pk = rng.standard_normal((1, 1, c * dm, filters)) / 2
    bias = rng.standard_normal(filters) / 4
    out_hw = [
        (n + sum(pads(n, k, s, d, padding)) - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(shape[1:3], kernel, strides, dilation, strict=True)
    ]
    dy = rng.standard_normal((shape[0], *out_hw, filters))
    return x, dk, pk, bias, dy


def torch_gradients(x, dk, pk, bias, dy, strides, dilation, padding, relu):
    """The four gradients by PyTorch autograd (NCHW inside, NHWC and Keras shapes out)."""
    import torch
    import torch.nn.functional as F

    kh, kw, c, dm = dk.shape
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    # PyTorch's grouped weight (C * dm, 1, kh, kw): output channel c * dm + m, as Keras
    wt = torch.tensor(dk.transpose(2, 3, 0, 1).reshape(c * dm, 1, kh, kw), requires_grad=True)
    pt = torch.tensor(pk[0, 0].T[:, :, None, None].copy(), requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True)
    (top, bottom), (left, right) = (
        pads(n, k, s, d, padding)
        for n, k, s, d in zip(x.shape[1:3], (kh, kw), strides, dilation, strict=True)
    )
    z = F.conv2d(
        F.pad(xt, (left, right, top, bottom)), wt, stride=strides, dilation=dilation, groups=c
    )
    y = F.conv2d(z, pt, bt)
    if relu:
        y = torch.relu(y)
    y.backward(torch.tensor(dy.transpose(0, 3, 1, 2)))
    return {
        "x": xt.grad.numpy().transpose(0, 2, 3, 1),
        "depthwise_kernel": wt.grad.numpy().reshape(c, dm, kh, kw).transpose(2, 3, 0, 1),
        "pointwise_kernel": pt.grad.numpy()[:, :, 0, 0].T[None, None],
        "bias": bt.grad.numpy(),
    }


def tf_gradients(x, dk, pk, bias, dy, strides, dilation, padding, relu):
    """The four gradients by TensorFlow's GradientTape through a Keras SeparableConv2D."""
    import keras
    import tensorflow as tf

    layer = keras.layers.SeparableConv2D(
        pk.shape[-1],
        dk.shape[:2],
        strides=strides,
        dilation_rate=dilation,
        padding=padding,
        depth_multiplier=dk.shape[3],
        activation="relu" if relu else None,
        dtype="float64",
    )
    layer.build(x.shape)
    layer.set_weights([dk, pk, bias])
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        loss = tf.reduce_sum(layer(xt) * dy)
    grads = tape.gradient(loss, [xt, *layer.trainable_weights])
    return dict(
        zip(
            ("x", "depthwise_kernel", "pointwise_kernel", "bias"),
            (np.asarray(g) for g in grads),
            strict=True,
        )
    )


def main():
    import keras
    import tensorflow as tf
    import torch

    os.makedirs(HERE, exist_ok=True)
    arrays = {}
    for name, (_, _, _, _, strides, dilation, padding, relu) in CASES.items():
        inputs = case_arrays(name)
        arrays.update(
            {f"{name}/{k}": v for k, v in zip(("x", "dk", "pk", "bias", "dy"), inputs, strict=True)}
        )
        for peer, gradients in (("torch", torch_gradients), ("tf", tf_gradients)):
            result = gradients(*inputs, strides, dilation, padding, relu)
            arrays.update({f"{name}/{peer}/{k}": v for k, v in result.items()})
    versions = {module.__name__: module.__version__ for module in (keras, tf, torch, np)}
    meta = {
        "versions": dict(versions, python=sys.version.split()[0]),
        "cases": {
            name: {"strides": c[4], "dilation": c[5], "padding": c[6], "relu": c[7]}
            for name, c in CASES.items()
        },
    }
    with open(os.path.join(HERE, "cases.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    np.savez_compressed(os.path.join(HERE, "arrays.npz"), **arrays)


if __name__ == "__main__":
    main()
