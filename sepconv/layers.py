"""The Keras ``SeparableConv2D`` layer on NumPy arrays, without a framework.

:class:`SeparableConv2D` takes the Keras 3.15 constructor arguments, weights,
configs and losses; its forward pass is one call to
:func:`sepconv.functional.separable_conv2d`.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _args, _dtypes, activations, constraints, initializers, regularizers
from ._typing import (
    Activation,
    ConstraintLike,
    DataFormat,
    FloatArray,
    InitializerLike,
    IntOrPair,
    Padding,
    RegularizerLike,
)
from .functional import separable_conv2d
from .gradients import separable_conv2d_grad

__all__ = ["SeparableConv2D", "SeparableConvolution2D"]

# tf.keras 2.x SeparableConv2D configs carry these keys of its Conv base
# class; they have no meaning for a separable convolution and are dropped.
_LEAKED_KEYS = ("groups", "kernel_initializer", "kernel_regularizer", "kernel_constraint")

_WEIGHT_NAMES = ("depthwise_kernel", "pointwise_kernel", "bias")
_REGULARIZER_ARGUMENTS = ("depthwise_regularizer", "pointwise_regularizer", "bias_regularizer")

# How many unnamed layers of each prefix exist, for Keras-style unique names.
_NAME_COUNTS: collections.Counter[str] = collections.Counter()


class SeparableConv2D:
    """Depthwise separable 2-D convolution layer, as Keras's ``SeparableConv2D``.

    A depthwise convolution (each input channel filtered by
    ``depth_multiplier`` kernels of its own) followed by a pointwise 1x1
    convolution mixing the channels into ``filters`` outputs, then the bias
    and the activation.  ``layer(x)`` takes a NumPy array (or anything
    :func:`numpy.asarray` takes) and returns a NumPy array; the first call
    creates the weights from the input shape.

    Parameters
    ----------
    filters : int
        Number of output channels (positive).
    kernel_size : int or tuple of 2 ints
        Depthwise kernel height and width.
    strides : int or tuple of 2 ints, default=(1, 1)
    padding : {"valid", "same"}, default="valid"
        Case-insensitive; "same" pads ``P // 2`` zeros before, the rest after.
    data_format : {"channels_last", "channels_first"} or None, default=None
        ``None`` reads :func:`sepconv.config.image_data_format` now.
    dilation_rate : int or tuple of 2 ints, default=(1, 1)
        May be combined with strides greater than 1.
    depth_multiplier : int, default=1
        Depthwise output channels per input channel (positive).
    activation : None, str, dict or callable, default=None
        See :mod:`sepconv.activations`; ``None`` is linear.  ``"relu"`` and
        linear run fused inside the kernel.
    use_bias : bool, default=True
    depthwise_initializer, pointwise_initializer : default="glorot_uniform"
    bias_initializer : default="zeros"
        See :mod:`sepconv.initializers`.
    depthwise_regularizer, pointwise_regularizer, bias_regularizer, activity_regularizer
        See :mod:`sepconv.regularizers`; their terms are in :attr:`losses`.
    depthwise_constraint, pointwise_constraint, bias_constraint
        See :mod:`sepconv.constraints`; applied by :meth:`apply_constraints`.
    name : str, optional
        Unnamed layers get ``separable_conv2d``, ``separable_conv2d_1``, ...
    trainable : bool, default=True
    dtype : {"float32", "float64"} or Keras DTypePolicy dict, optional
        Float type of the weights and the computation; ``None`` is float32.
    n_threads : int or None, default=None
        sepconv only (not part of the config): OpenMP threads of the kernel.

    Raises
    ------
    ValueError
        For a bad value of any argument; the message names it.
    TypeError
        For an unknown keyword.

    Examples
    --------
    >>> import numpy as np
    >>> import sepconv
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    >>> layer = sepconv.SeparableConv2D(4, 3, padding="same", depth_multiplier=2, activation="relu")
    >>> y = layer(x)
    >>> y.shape
    (2, 8, 8, 4)
    >>> [w.shape for w in layer.get_weights()]
    [(3, 3, 3, 2), (1, 1, 6, 4), (4,)]
    >>> clone = sepconv.SeparableConv2D.from_config(layer.get_config())
    >>> clone.build(x.shape)
    >>> clone.set_weights(layer.get_weights())
    >>> np.array_equal(clone(x), y)
    True
    """

    def __init__(
        self,
        filters: int,
        kernel_size: IntOrPair,
        strides: IntOrPair = (1, 1),
        padding: Padding = "valid",
        data_format: DataFormat | None = None,
        dilation_rate: IntOrPair = (1, 1),
        depth_multiplier: int = 1,
        activation: Activation | dict[str, Any] = None,
        use_bias: bool = True,
        depthwise_initializer: InitializerLike = "glorot_uniform",
        pointwise_initializer: InitializerLike = "glorot_uniform",
        bias_initializer: InitializerLike = "zeros",
        depthwise_regularizer: RegularizerLike = None,
        pointwise_regularizer: RegularizerLike = None,
        bias_regularizer: RegularizerLike = None,
        activity_regularizer: RegularizerLike = None,
        depthwise_constraint: ConstraintLike = None,
        pointwise_constraint: ConstraintLike = None,
        bias_constraint: ConstraintLike = None,
        *,
        name: str | None = None,
        trainable: bool = True,
        dtype: npt.DTypeLike | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.filters = _positive_int(filters, "filters")
        self.kernel_size = _args.pair(kernel_size, "kernel_size")
        self.strides = _args.pair(strides, "strides")
        self.padding = _args.padding(padding)
        self.data_format = _args.data_format(data_format)
        self.dilation_rate = _args.pair(dilation_rate, "dilation_rate")
        self.depth_multiplier = _positive_int(depth_multiplier, "depth_multiplier")
        self.activation = _lookup(activations, activation, "activation")
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = _lookup(
            initializers, depthwise_initializer, "depthwise_initializer"
        )
        self.pointwise_initializer = _lookup(
            initializers, pointwise_initializer, "pointwise_initializer"
        )
        self.bias_initializer = _lookup(initializers, bias_initializer, "bias_initializer")
        self.depthwise_regularizer = _lookup(
            regularizers, depthwise_regularizer, "depthwise_regularizer"
        )
        self.pointwise_regularizer = _lookup(
            regularizers, pointwise_regularizer, "pointwise_regularizer"
        )
        self.bias_regularizer = _lookup(regularizers, bias_regularizer, "bias_regularizer")
        self.activity_regularizer = _lookup(
            regularizers, activity_regularizer, "activity_regularizer"
        )
        self.depthwise_constraint = _lookup(
            constraints, depthwise_constraint, "depthwise_constraint"
        )
        self.pointwise_constraint = _lookup(
            constraints, pointwise_constraint, "pointwise_constraint"
        )
        self.bias_constraint = _lookup(constraints, bias_constraint, "bias_constraint")
        self.trainable = bool(trainable)
        self.dtype = _dtypes.float_dtype(dtype).name
        self.n_threads = _args.n_threads(n_threads)
        # Last, so that a failed construction uses up no automatic name.
        self.name = _layer_name(name, "separable_conv2d")
        # None until build
        self.depthwise_kernel: FloatArray | None = None
        self.pointwise_kernel: FloatArray | None = None
        self.bias: FloatArray | None = None
        self.built = False
        self._input_channels = None
        self._activity_losses: list[Any] = []  # NumPy scalars of the layer dtype
        self._tape: dict[str, Any] | None = None
        self.gradients: list[FloatArray] = []

    def __repr__(self):
        return (
            f"<SeparableConv2D name={self.name!r} filters={self.filters} "
            f"kernel_size={self.kernel_size} built={self.built}>"
        )

    # ------------------------------------------------------------------
    # Shapes and weights

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Create the weights for inputs of ``input_shape`` (4 entries, the batch may be None).

        Raises
        ------
        ValueError
            If ``input_shape`` is not 4-D with a known channel count, or
            gives an empty output.
        """
        channels = self._channels_of(input_shape)
        self._output_shape(input_shape)
        initial = [self.depthwise_initializer, self.pointwise_initializer, self.bias_initializer]
        values = [
            self._initial_value(init, shape, weight_name)
            for init, shape, weight_name in zip(
                initial, self._weight_shapes(channels), _WEIGHT_NAMES, strict=False
            )
        ]
        self._install(values, channels)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """Return the output shape for ``input_shape``; None entries stay None.

        Raises
        ------
        ValueError
            For an input shape that is not 4-D, whose channel count differs
            from the built layer's, or that gives an empty output.
        """
        self._check_channels(self._channels_of(input_shape), tuple(input_shape))
        return self._output_shape(input_shape)

    @property
    def weights(self) -> list[FloatArray]:
        """The weight arrays themselves: depthwise kernel, pointwise kernel, bias (if used)."""
        if not self.built:
            return []
        return [
            w for w in (self.depthwise_kernel, self.pointwise_kernel, self.bias) if w is not None
        ]

    @property
    def trainable_weights(self) -> list[FloatArray]:
        """:attr:`weights` when the layer is trainable, else an empty list."""
        return self.weights if self.trainable else []

    @property
    def non_trainable_weights(self) -> list[FloatArray]:
        """:attr:`weights` when the layer is not trainable, else an empty list."""
        return [] if self.trainable else self.weights

    def get_weights(self) -> list[FloatArray]:
        """Return copies of the weights, in the order of :attr:`weights`."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[npt.ArrayLike]) -> None:
        """Replace the weights with copies of ``weights`` (cast to the layer dtype).

        An unbuilt layer is built for the channel count of the depthwise
        kernel ``weights[0]``.  Nothing changes when the check fails.

        Raises
        ------
        ValueError
            If the number of arrays or a shape differs from the expected; the
            message gives both.
        """
        weights = list(weights)
        channels = self._input_channels if self.built else _channels_of_kernel(weights)
        expected = self._weight_shapes(channels)
        given = [np.shape(w) for w in weights]
        if given != expected:
            raise ValueError(
                f"layer {self.name!r} expects {len(expected)} weights "
                f"({', '.join(_WEIGHT_NAMES[: len(expected)])}) of shapes {expected}; "
                f"received {len(given)} of shapes {given}"
            )
        self._install([np.array(w, dtype=self.dtype) for w in weights], channels)

    def count_params(self) -> int:
        """Return the number of weight entries.

        Raises
        ------
        ValueError
            If the layer is not built yet.
        """
        if not self.built:
            raise ValueError(
                f"layer {self.name!r} is not built yet: call it on an input or call "
                "build(input_shape) before count_params()"
            )
        return sum(w.size for w in self.weights)

    def apply_constraints(self) -> None:
        """Apply the weight constraints in place, as Keras's optimizer does after an update."""
        for weight_name, constraint in zip(
            _WEIGHT_NAMES,
            (self.depthwise_constraint, self.pointwise_constraint, self.bias_constraint),
            strict=True,
        ):
            weight = getattr(self, weight_name)
            if constraint is not None and weight is not None:
                weight[...] = constraint(weight)

    # ------------------------------------------------------------------
    # Forward pass and losses

    def __call__(self, inputs: npt.ArrayLike, training: bool = False) -> FloatArray:
        """Return the layer's output for the image batch ``inputs``.

        Integer and other float inputs are cast to the layer dtype.  The
        first call builds the layer.  With ``training=True`` the layer keeps
        what :meth:`backward` needs (the input, the output, and the
        pre-activation for activations not fused into the kernel).

        Raises
        ------
        ValueError
            For an input that is not 4-D, whose channel count differs from
            the built layer's, or that gives an empty output.
        TypeError
            For an input that does not hold real numbers.
        """
        x = _args.as_array(inputs, "inputs")
        _args.check_rank(x, "inputs", (4,), _args.IMAGE_LAYOUTS[self.data_format])
        _args.compute_dtype(inputs=x)  # raises TypeError for complex, object or text input
        x = x.astype(self.dtype, copy=False)
        if self.built:
            self._check_channels(self._channels_of(x.shape), x.shape)
        else:
            self.build(x.shape)
        outputs = self._forward(x, training)
        self._activity_losses = (
            [] if self.activity_regularizer is None else [self._activity_loss(outputs)]
        )
        return outputs

    @property
    def losses(self) -> list[Any]:
        """Regularization terms: activity (of the last call), then depthwise, pointwise, bias.

        The activity term is ``activity_regularizer(outputs) / batch_size``
        (0 for an empty batch); weight terms are computed from the current
        weights.
        """
        losses = list(self._activity_losses)
        for weight_name, regularizer in zip(
            _WEIGHT_NAMES,
            (self.depthwise_regularizer, self.pointwise_regularizer, self.bias_regularizer),
            strict=True,
        ):
            weight = getattr(self, weight_name)
            if regularizer is not None and weight is not None:
                losses.append(np.asarray(regularizer(weight), dtype=self.dtype)[()])
        return losses

    # ------------------------------------------------------------------
    # Backward pass

    def backward(self, dy: npt.ArrayLike) -> FloatArray:
        """Backward pass of the last ``training=True`` call: return the input gradient.

        The gradients are those of ``sum(outputs * dy) + sum(self.losses)``,
        as Keras's ``GradientTape`` gives them: the regularizers' terms are in
        the weight gradients, and the activity regularizer's (divided by the
        batch size) flows through the whole layer.  Sets :attr:`gradients`,
        aligned with :attr:`trainable_weights` (empty when the layer is not
        trainable).  The weights and input are those of the training call.

        Parameters
        ----------
        dy : array_like
            Gradient of the loss with respect to the outputs of the call;
            cast to the layer dtype.

        Returns
        -------
        numpy.ndarray
            Gradient with respect to the call's input, in the layer dtype.

        Raises
        ------
        RuntimeError
            If there was no ``training=True`` call since the layer was made.
        ValueError
            If ``dy`` does not have the outputs' shape, or a regularizer or
            activation has no known derivative.
        TypeError
            For a ``dy`` that does not hold real numbers.
        """
        tape = self._tape
        if tape is None:
            raise RuntimeError(
                f"layer {self.name!r}: backward() needs the outputs of a call with "
                "training=True first, e.g. layer(x, training=True)"
            )
        dy = _args.as_array(dy, "dy")
        _args.compute_dtype(dy=dy)  # raises TypeError for complex, object or text
        if dy.shape != tape["outputs"].shape:
            raise ValueError(
                f"`dy` must have the outputs' shape {tape['outputs'].shape}; "
                f"received dy.shape={dy.shape}"
            )
        dy = dy.astype(self.dtype)
        if self.activity_regularizer is not None and len(dy):
            # the activity loss is the regularizer's value over the batch size
            dy = dy + _regularizer_gradient(
                self.activity_regularizer, tape["outputs"], "activity_regularizer"
            ) / dy.dtype.type(len(dy))
        return self._backward(tape, dy)

    def _forward(self, x, training):
        """The outputs for ``x`` (layer dtype); with ``training`` the tape for backward."""
        activation = self._kernel_activation()
        # a training call computes the pre-activation of a Python activation
        # itself, to keep it for the activation's derivative
        python_activation = training and callable(activation)
        assert self.depthwise_kernel is not None and self.pointwise_kernel is not None  # built
        outputs = separable_conv2d(
            x,
            self.depthwise_kernel,
            self.pointwise_kernel,
            self.bias,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
            activation=None if python_activation else activation,
            n_threads=self.n_threads,
        )
        pre = outputs if python_activation else None
        outputs = np.asarray(activation(pre) if python_activation else outputs, dtype=self.dtype)
        self._tape = None
        if training:
            self._tape = {
                "x": x,
                "outputs": outputs,
                "pre": pre,
                "weights": [w.copy() for w in self.weights],
            }
        return outputs

    def _backward(self, tape, dy):
        """Input gradient from the output gradient ``dy``; sets :attr:`gradients`."""
        activation = self._kernel_activation()
        if activation == "relu":
            # ReLU's derivative from the output: 0 where the output is 0
            dy = np.where(tape["outputs"] > 0, dy, dy.dtype.type(0))
        elif callable(activation):
            dy = _activation_gradient(self.activation, tape["pre"], dy)
        names = ("x", *(_WEIGHT_NAMES[: len(tape["weights"])] if self.trainable else ()))
        grads = separable_conv2d_grad(
            dy,
            tape["x"],
            *tape["weights"],
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            data_format=self.data_format,
            wrt=names,
            n_threads=self.n_threads,
        )
        self.gradients = [
            grads[name]
            if getattr(self, argument) is None
            else grads[name] + _regularizer_gradient(getattr(self, argument), weight, argument)
            for name, argument, weight in zip(
                names[1:], _REGULARIZER_ARGUMENTS, tape["weights"], strict=False
            )
        ]
        return grads["x"]

    # ------------------------------------------------------------------
    # Configs

    def get_config(self) -> dict[str, Any]:
        """Return the Keras 3 config; ``keras.layers.SeparableConv2D.from_config`` loads it.

        Raises
        ------
        ValueError
            If an activation, initializer, regularizer or constraint is a
            callable that has no config.
        """
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": _dtypes.policy_config(self.dtype),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "depth_multiplier": self.depth_multiplier,
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "depthwise_regularizer": regularizers.serialize(self.depthwise_regularizer),
            "pointwise_regularizer": regularizers.serialize(self.pointwise_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "depthwise_constraint": constraints.serialize(self.depthwise_constraint),
            "pointwise_constraint": constraints.serialize(self.pointwise_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeparableConv2D:
        """Build a layer from a config written by Keras 3, tf.keras 2.x or :meth:`get_config`.

        tf.keras 2.x's meaningless keys ``groups``, ``kernel_initializer``,
        ``kernel_regularizer`` and ``kernel_constraint`` are dropped; a
        ``batch_input_shape`` builds the layer for that shape.

        Raises
        ------
        TypeError
            For any other key that is not a constructor argument.
        ValueError
            For a bad value.
        """
        config = {k: v for k, v in config.items() if k not in _LEAKED_KEYS}
        batch_input_shape = config.pop("batch_input_shape", None)
        layer = cls(**config)
        if batch_input_shape is not None:
            layer.build(batch_input_shape)
        return layer

    # ------------------------------------------------------------------
    # Helpers

    def _weight_shapes(self, channels):
        shapes = [
            (*self.kernel_size, channels, self.depth_multiplier),
            (1, 1, channels * self.depth_multiplier, self.filters),
        ]
        return shapes + [(self.filters,)] if self.use_bias else shapes

    def _initial_value(self, initializer, shape, weight_name):
        # Keras initialises float weights without an initializer as glorot_uniform.
        initializer = initializer or initializers.GlorotUniform()
        value = np.asarray(initializer(shape, dtype=self.dtype), dtype=self.dtype)
        if value.shape != shape:
            raise ValueError(
                f"the initializer of `{weight_name}` returned shape {value.shape}; expected {shape}"
            )
        return value

    def _install(self, values, channels):
        self.depthwise_kernel, self.pointwise_kernel = values[:2]
        self.bias = values[2] if self.use_bias else None
        self._input_channels = channels
        self.built = True

    def _channels_of(self, input_shape):
        """Return the channel count of a 4-entry ``input_shape``."""
        shape = _args.as_tuple(input_shape)
        if shape is None or len(shape) != 4:
            raise ValueError(
                f"`input_shape` must have 4 entries, {_args.IMAGE_LAYOUTS[self.data_format]}; "
                f"received input_shape={input_shape!r}"
            )
        channels = shape[1] if self.data_format == "channels_first" else shape[3]
        if not _args.is_integer(channels) or channels < 1:
            raise ValueError(
                f"the channel axis of `input_shape` must be a positive integer; "
                f"received input_shape={input_shape!r} with data_format={self.data_format!r}"
            )
        return int(channels)

    def _check_channels(self, channels, shape):
        if self.built and channels != self._input_channels:
            raise ValueError(
                f"layer {self.name!r} was built for inputs with {self._input_channels} "
                f"channels; received {channels} channels (shape {shape})"
            )

    def _output_shape(self, input_shape):
        """Output shape by the spec's arithmetic; unknown spatial sizes stay None."""
        shape = tuple(input_shape)
        first = self.data_format == "channels_first"
        spatial = shape[2:] if first else shape[1:3]
        # An unknown size is stood in for by the dilated kernel extent, which
        # is always valid; its output size is then reported as None.
        extents = [
            d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate, strict=True)
        ]
        known = [e if n is None else n for n, e in zip(spatial, extents, strict=True)]
        win = _args.window(known, self.kernel_size, self.strides, self.dilation_rate, self.padding)
        out_hw = tuple(None if n is None else o for n, o in zip(spatial, win.out_hw, strict=True))
        return (shape[0], self.filters, *out_hw) if first else (shape[0], *out_hw, self.filters)

    def _kernel_activation(self):
        """The activation as the functional API takes it: relu and linear run fused."""
        if self.activation is activations.relu:
            return "relu"
        if self.activation is activations.linear:
            return None
        return self.activation

    def _activity_loss(self, outputs):
        loss = np.asarray(self.activity_regularizer(outputs), dtype=outputs.dtype)[()]
        batch = outputs.shape[0]
        return loss / outputs.dtype.type(batch) if batch else outputs.dtype.type(0)

    # ------------------------------------------------------------------
    # Keras files (sepconv.saving, which imports h5py on first use)

    def save_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Write the weights as Keras 3's ``.weights.h5`` of a one-layer Sequential model.

        Keras 3 reads the file with ``load_weights`` into
        ``keras.Sequential([keras.Input(shape), keras.layers.SeparableConv2D(**config)])``.
        See :func:`sepconv.saving.save_layer_weights`.
        """
        from .saving import save_layer_weights

        save_layer_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike[str]) -> None:
        """Read the weights of a one-layer Sequential model's ``.weights.h5`` or ``.keras``.

        Reads what :meth:`save_weights` and Keras 3 write.  See
        :func:`sepconv.saving.load_layer_weights`.
        """
        from .saving import load_layer_weights

        load_layer_weights(self, filepath)


SeparableConvolution2D = SeparableConv2D


def _positive_int(value, name):
    """Return ``value`` as an int, checking that it is a positive integer."""
    if not _args.is_integer(value) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer; received {name}={value!r}")
    return int(value)


def _lookup(module, identifier, argument):
    """``module.get(identifier)``, with ``argument`` named in the error message."""
    try:
        return module.get(identifier)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"`{argument}`: {exc}") from exc


def _layer_name(name, prefix):
    """Return ``name``, or the next unique ``prefix``, ``prefix_1``, ... when it is None."""
    if name is None:
        count = _NAME_COUNTS[prefix]
        _NAME_COUNTS[prefix] += 1
        return prefix if count == 0 else f"{prefix}_{count}"
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"`name` must be a non-empty string without '/'; received name={name!r}")
    return name


def _channels_of_kernel(weights):
    """Input channel count of an unbuilt layer, read from the depthwise kernel ``weights[0]``."""
    if not weights or np.ndim(weights[0]) != 4 or np.shape(weights[0])[2] < 1:
        raise ValueError(
            "the layer is not built, so `weights[0]` must be the 4-D depthwise kernel "
            "(kh, kw, channels, depth_multiplier) that gives its input channels; received "
            f"{len(weights)} weights of shapes {[np.shape(w) for w in weights]}"
        )
    return np.shape(weights[0])[2]


def _regularizer_gradient(regularizer, value, argument):
    """The derivative of ``regularizer`` at ``value``, naming ``argument`` when it has none."""
    gradient = getattr(regularizer, "gradient", None)
    if gradient is None:
        raise ValueError(
            f"`{argument}`: no gradient is known for {regularizer!r}; use a regularizer of "
            "sepconv.regularizers (L1, L2, L1L2)"
        )
    return gradient(value)


def _activation_gradient(activation, pre, dy):
    """``dy`` through the derivative of a Python ``activation`` at ``pre``."""
    try:
        return activations.gradient(activation, pre, dy)
    except ValueError as exc:
        raise ValueError(f"`activation`: {exc}") from exc
