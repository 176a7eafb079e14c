"""What the asv benchmarks share: the issue's shapes and optional sepconv classes."""

import importlib
import os
import sys

# shapes.py, peers.py and rss.py sit one directory up, beside compare.py:
# asv imports only this package.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import peers  # noqa: E402
import rss  # noqa: E402
from shapes import DTYPES, SHAPES, make_data  # noqa: E402

__all__ = ["DTYPES", "SHAPES", "make_data", "required_class", "Timed", "peers", "rss", "warm_up"]


def warm_up(shape, dtype, threads):
    """Run sepconv once on a one-image batch of ``shape``.

    The first call in a process pays for lazy imports and starting threads
    (about 0.2 s here); asv's ``--quick`` runs take a single sample, which
    would otherwise include it.
    """
    peers.sepconv_forward(shape.one_image(), make_data(shape.one_image(), dtype), threads)


class Timed:
    """asv settings for calls of milliseconds to a second: one call per sample."""

    number = 1
    repeat = (3, 10, 20.0)
    timeout = 300


def required_class(name, module):
    """``sepconv.<name>``, else ``sepconv.<module>.<name>``, for a benchmark's ``setup``.

    The layer and the transformer land in other issues; until they exist
    this raises ``NotImplementedError``, which asv reports as skipped, so the
    suite still loads.
    """
    import sepconv

    found = getattr(sepconv, name, None)
    if found is None:
        try:
            found = getattr(importlib.import_module(f"sepconv.{module}"), name)
        except (ImportError, AttributeError):
            raise NotImplementedError(f"sepconv.{name} does not exist yet") from None
    return found
