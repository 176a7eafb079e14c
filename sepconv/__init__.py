"""sepconv: depthwise separable 2-D convolution on the CPU.

The Keras ``SeparableConv2D`` operation without a deep-learning framework:
typed Cython kernels parallelised with OpenMP, the pointwise step through
SciPy's BLAS, float32 and float64.

Functional API: :func:`separable_conv2d`, :func:`depthwise_conv2d`,
:func:`pointwise_conv2d`.  :func:`show_config` reports the build.
"""

__version__ = "0.1.0"

from . import config  # noqa: E402
from ._info import config_info, show_config  # noqa: E402
from .functional import depthwise_conv2d, pointwise_conv2d, separable_conv2d  # noqa: E402

__all__ = [
    "config",
    "config_info",
    "depthwise_conv2d",
    "pointwise_conv2d",
    "separable_conv2d",
    "show_config",
]
