"""The layer ``sepconv.SeparableConv2D`` (issue 4) on the shapes of issue 5.

Skipped while the layer does not exist.  Its time over
``bench_functional.SeparableConv2D``'s is the layer's overhead.
"""

from .common import DTYPES, SHAPES, Timed, make_data, required_class


class Layer(Timed):
    """Forward call of a built layer, default threads."""

    params = (list(SHAPES), list(DTYPES))
    param_names = ["shape", "dtype"]

    def setup(self, shape, dtype):
        layer_class = required_class("SeparableConv2D", "layers")
        shape = SHAPES[shape]
        self.x = make_data(shape, dtype)["x"]
        self.layer = layer_class(
            filters=shape.f,
            kernel_size=shape.k,
            strides=shape.stride,
            padding="same",
            dilation_rate=shape.dilation,
            depth_multiplier=shape.dm,
            dtype=dtype,
        )
        self.layer(self.x)  # the first call builds the weights

    def time_call(self, shape, dtype):
        self.layer(self.x)
