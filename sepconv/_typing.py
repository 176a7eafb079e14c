"""Type aliases shared by the annotations of the public API.

The public modules import these under ``from __future__ import annotations``,
so none of them is evaluated at run time by a caller.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from .constraints import Constraint
    from .initializers import Initializer
    from .regularizers import Regularizer

# What the functions return: float32 or float64 arrays.
FloatArray: TypeAlias = npt.NDArray[np.floating[Any]]

# An int for both axes or one per axis (height, width).
IntOrPair: TypeAlias = int | Sequence[int]

# Case-insensitive at run time; the type names the canonical spellings.
Padding: TypeAlias = Literal["valid", "same"]

DataFormat: TypeAlias = Literal["channels_last", "channels_first"]

# The functional API's activation: a fused name or a function of the output array.
FunctionalActivation: TypeAlias = Literal["linear", "relu"] | Callable[..., Any] | None

# A layer's activation: any name of sepconv.activations, a function, or None.
Activation: TypeAlias = str | Callable[..., Any] | None

# A Keras-style configuration dictionary.
Config: TypeAlias = dict[str, Any]

# What the layer's vocabulary arguments take: a name, a Keras config dict, an
# instance, or a callable (see each module's ``get``).  Strings: the classes
# are not imported at run time.
InitializerLike: TypeAlias = "str | dict[str, Any] | Initializer | Callable[..., Any] | None"
RegularizerLike: TypeAlias = "str | dict[str, Any] | Regularizer | Callable[..., Any] | None"
ConstraintLike: TypeAlias = "str | dict[str, Any] | Constraint | Callable[..., Any] | None"
