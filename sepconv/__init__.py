"""sepconv: depthwise separable 2-D convolution on the CPU.

The Keras ``SeparableConv2D`` operation without a deep-learning framework:
typed Cython kernels parallelised with OpenMP, the pointwise step through
SciPy's BLAS, float32 and float64.

Functional API: :func:`separable_conv2d`, :func:`depthwise_conv2d`,
:func:`pointwise_conv2d`.  Layer: :class:`SeparableConv2D` (Keras-compatible)
with the vocabulary modules :mod:`activations`, :mod:`initializers`,
:mod:`regularizers` and :mod:`constraints`.  :func:`show_config` reports the
build.  scikit-learn transformer: :class:`SeparableConvFeatures` (imported on
first use, so that ``import sepconv`` does not import scikit-learn).
"""

__version__ = "0.1.0"

# The imports follow __version__, which _info reads.
from . import (  # noqa: E402
    activations,
    config,
    constraints,
    initializers,
    optimizers,
    regularizers,
    saving,  # h5py: on first use
)
from ._info import config_info, show_config  # noqa: E402
from ._native._buffers import clear as release_buffers  # noqa: E402
from .functional import depthwise_conv2d, pointwise_conv2d, separable_conv2d  # noqa: E402
from .gradients import (  # noqa: E402
    depthwise_conv2d_grad,
    pointwise_conv2d_grad,
    separable_conv2d_grad,
)
from .layers import SeparableConv2D, SeparableConvolution2D  # noqa: E402
from .random import set_random_seed  # noqa: E402
from .saving import load_keras_layers, save_keras_model  # noqa: E402

__all__ = [
    "SeparableConvFeatures",
    "SeparableConv2D",
    "SeparableConvolution2D",
    "load_keras_layers",
    "save_keras_model",
    "activations",
    "config",
    "constraints",
    "initializers",
    "optimizers",
    "regularizers",
    "saving",
    "release_buffers",
    "set_random_seed",
    "config_info",
    "depthwise_conv2d",
    "depthwise_conv2d_grad",
    "pointwise_conv2d",
    "pointwise_conv2d_grad",
    "separable_conv2d",
    "separable_conv2d_grad",
    "show_config",
]


def __dir__() -> list[str]:
    # The lazy SeparableConvFeatures is listed too (tab completion).
    return sorted(set(globals()) | set(__all__))


def __getattr__(name: str) -> object:
    # PEP 562: the transformer pulls in scikit-learn, so it loads on first use.
    if name == "SeparableConvFeatures":
        from .transformer import SeparableConvFeatures

        return SeparableConvFeatures
    raise AttributeError(f"module 'sepconv' has no attribute {name!r}")
