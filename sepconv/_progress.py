"""Progress reports of long loops: a tqdm bar when tqdm is installed, plain lines otherwise.

Used by :meth:`sepconv.transformer.SeparableConvFeatures.transform` with
``verbose`` set.  Nothing is shown before :data:`_REPORT_AFTER_S` seconds, so
short work stays silent whatever ``verbose`` says (scikit-learn prints
nothing for quick fits either).
"""

from __future__ import annotations

import sys
from time import monotonic
from types import TracebackType
from typing import Any

# Seconds of work before the first report: quick transforms print nothing.
_REPORT_AFTER_S = 3.0

# Seconds between two plain-text lines (tqdm paces its own bar).
_REPORT_EVERY_S = 2.0


class Progress:
    """Count steps done out of ``total`` and report them to stderr once the work runs long.

    Parameters
    ----------
    total : int
        Steps the work has.
    verbose : int or bool
        0 (or False) reports nothing.
    name : str
        Shown before each report, as ``[name]`` (the bar's description).
    unit : str
        What a step is called, ``"batch"`` by default.
    """

    def __init__(self, total: int, verbose: int | bool, name: str, unit: str = "batch") -> None:
        self.total = total
        self.enabled = bool(verbose)
        self.name = name
        self.unit = unit
        self.done = 0
        self._start = monotonic()
        self._last_line: float | None = None
        self._bar: Any = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self) -> None:
        """Record one step done and report if the work has run long enough."""
        self.done += 1
        if not self.enabled:
            return
        now = monotonic()
        if self._bar is not None:
            self._bar.update(1)
        elif now - self._start >= _REPORT_AFTER_S:
            self._report(now)

    def _report(self, now: float) -> None:
        """Open the tqdm bar at the first report, or print a line when one is due."""
        if self._last_line is None:
            self._bar = _tqdm_bar(self.total, self.done, self.name, self.unit)
            if self._bar is not None:
                return
        finished = self.done == self.total
        if self._last_line is None or finished or now - self._last_line >= _REPORT_EVERY_S:
            self._last_line = now
            print(self._line(now - self._start), file=sys.stderr, flush=True)

    def _line(self, elapsed: float) -> str:
        """Return ``[name] batch 12/40, 3.1 s elapsed, about 7.2 s left``."""
        left = elapsed / self.done * (self.total - self.done)
        return (
            f"[{self.name}] {self.unit} {self.done}/{self.total}, "
            f"{elapsed:.1f} s elapsed, about {left:.1f} s left"
        )


def _tqdm_bar(total: int, done: int, name: str, unit: str) -> Any:
    """Return a tqdm bar already ``done`` steps in, or None when tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=done, desc=name, unit=unit, file=sys.stderr)
