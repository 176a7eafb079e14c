"""The backward passes ``compare.py --backward`` times: sepconv's and its peers'.

Each library computes all four gradients of ``sum(y * dy)`` for the forward
call of ``peers.py`` (same operands, same best layouts): sepconv's
``separable_conv2d_grad``; PyTorch's ``y.backward(dy)`` with autograd on
(NCHW and channels_last); TensorFlow's ``GradientTape.gradient``.  The
peers' forward pass runs once, untimed, when the case is prepared (its graph
kept with ``retain_graph`` / a persistent tape), so only the backward is
timed; sepconv's backward recomputes what it needs of the forward inside the
timed call.  The result checked against sepconv's is the input gradient.
"""

import numpy as np
import peers
from peers import _nhwc, _oihw_weights, _pads

__all__ = ["LIBRARIES", "reference"]


def _upstream(shape, dtype):
    """The upstream gradient dy of a case: random normal, the output's NHWC shape."""
    rng = np.random.default_rng(1)
    return rng.standard_normal(shape.output_shape, dtype=np.dtype(dtype))


def reference(shape, data, threads=1):
    """sepconv's input gradient for a case, the checks' reference."""
    call, to_nhwc = LIBRARIES["sepconv"].prepare(shape, data, threads)
    return to_nhwc(call())


class Sepconv(peers.Sepconv):
    def prepare(self, shape, data, threads):
        import sepconv

        peers.require_channels_last(shape, "the backward comparison")
        dy = _upstream(shape, data["x"].dtype)

        def call():
            return sepconv.separable_conv2d_grad(
                dy,
                data["x"],
                data["depthwise"],
                data["pointwise"],
                data["bias"],
                strides=shape.stride,
                padding="same",
                dilation_rate=shape.dilation,
                n_threads=threads,
            )

        return call, lambda grads: grads["x"]


class PyTorch(peers.PyTorch):
    def prepare(self, shape, data, threads):
        import torch
        import torch.nn.functional as F

        peers.require_channels_last(shape, "the backward comparison")
        x = torch.from_numpy(data["x"]).permute(0, 3, 1, 2)
        x = x.contiguous(memory_format=getattr(torch, self.memory_format)).requires_grad_()
        leaves = [
            x,
            *(
                torch.from_numpy(w).requires_grad_()
                for w in (*_oihw_weights(shape, data), data["bias"])
            ),
        ]
        _, depthwise, pointwise, bias = leaves
        (top, bottom), (left, right) = _pads(shape)
        z = F.conv2d(
            F.pad(x, (left, right, top, bottom)),
            depthwise,
            None,
            shape.stride,
            0,
            shape.dilation,
            shape.c,
        )
        y = F.conv2d(z, pointwise, bias)
        dy = torch.from_numpy(_upstream(shape, data["x"].dtype)).permute(0, 3, 1, 2)
        dy = dy.contiguous(memory_format=getattr(torch, self.memory_format))

        def call():
            for leaf in leaves:
                leaf.grad = None
            y.backward(dy, retain_graph=True)
            return x.grad

        return call, lambda grad: _nhwc(grad.numpy())


class TensorFlow(peers.TensorFlow):
    def prepare(self, shape, data, threads):
        import tensorflow as tf

        peers.require_channels_last(shape, "the backward comparison")
        variables = [tf.Variable(data[key]) for key in ("x", "depthwise", "pointwise", "bias")]
        x, depthwise, pointwise, bias = variables
        stride = [1, shape.stride, shape.stride, 1]
        with tf.GradientTape(persistent=True) as tape:
            y = tf.nn.bias_add(
                tf.nn.separable_conv2d(
                    x,
                    depthwise,
                    pointwise,
                    stride,
                    "SAME",
                    dilations=[shape.dilation, shape.dilation],
                ),
                bias,
            )
        dy = tf.constant(_upstream(shape, data["x"].dtype))

        def call():
            grads = tape.gradient(y, variables, output_gradients=dy)
            return grads[0].numpy()

        return call, np.asarray


LIBRARIES = {
    library.name: library
    for library in (
        Sepconv(),
        PyTorch("pytorch", "contiguous_format"),
        PyTorch("pytorch-nhwc", "channels_last"),
        TensorFlow(),
    )
}
