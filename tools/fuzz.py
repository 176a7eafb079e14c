"""A long fuzz run over every public entry point: ``python tools/fuzz.py [EXAMPLES]``.

The strategy and the checks are those of ``tests/test_robustness.py``
(``tests/fuzzing.py``), with as many examples as asked (default 20000) for
the functions and a quarter as many for wide layers, the gradients, the layer
and the transformer.
Prints the calls made, the time taken and the outcomes by kind; exits
non-zero on the first wrong result or undocumented exception, after
hypothesis has shrunk it.
"""

import collections
import os
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import fuzzing  # noqa: E402


def _settings(examples):
    """hypothesis settings of a long run: no deadline, no database, no health checks."""
    return settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


def main(examples):
    outcomes = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:

        @_settings(examples)
        @given(call=fuzzing.calls())
        def fuzz(call):
            outcomes["functions: " + fuzzing.run(call, Path(tmp))] += 1

        @_settings(examples // 4)
        @given(call=fuzzing.calls(wide=True))
        def fuzz_wide(call):
            outcomes["wide layers: " + fuzzing.run(call, Path(tmp))] += 1

        @_settings(examples // 4)
        @given(call=fuzzing.calls())
        def fuzz_gradients(call):
            outcomes["gradients: " + fuzzing.run_grad(call, Path(tmp))] += 1

        @_settings(examples // 4)
        @given(call=fuzzing.face_calls())
        def fuzz_faces(call):
            outcomes[f"{call[0]}: " + fuzzing.run_face(call)] += 1

        start = time.perf_counter()
        fuzz()
        fuzz_wide()
        fuzz_gradients()
        fuzz_faces()
        seconds = time.perf_counter() - start
    print(f"{sum(outcomes.values())} calls in {seconds:.1f} s")
    for outcome, count in outcomes.most_common():
        print(f"  {count:6d}  {outcome}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)
