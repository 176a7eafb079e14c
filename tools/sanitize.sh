#!/usr/bin/env bash
# Build the kernels with AddressSanitizer and UndefinedBehaviorSanitizer in a
# copy of the checkout and run the reference and robustness tests (the fuzz
# test among them) on them; any report fails the run.
#
#   bash tools/sanitize.sh [PYTEST ARGS...]
#
# Needs gcc with libasan/libubsan and the test extra installed in the
# active Python environment.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# the build's own requirements (pyproject.toml), which an installed sepconv does not bring
python -m pip install -q "Cython>=3.0" "setuptools>=68"
git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$work")
cd "$work"
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g"
# only the kernel builds this CPU runs: the others could not be tested here
levels=baseline
grep -q -w avx2 /proc/cpuinfo && levels=$levels,avx2
grep -q -w avx512f /proc/cpuinfo && levels=$levels,avx512
echo "sanitizer build of the kernel levels $levels"
SEPCONV_ISA_LEVELS=$levels CFLAGS="$flags" LDFLAGS="-fsanitize=address,undefined" \
    python setup.py -q build_ext --inplace >build.log 2>&1 || { tail -50 build.log; exit 1; }
asan=$(gcc -print-file-name=libasan.so)
ubsan=$(gcc -print-file-name=libubsan.so)
# Python and NumPy are not instrumented: their allocations are not ours to
# judge (leaks off); any error in the kernels aborts the process.  A request
# for more memory than exists gets NULL (NumPy's MemoryError), as without
# the sanitizer.  Timing and memory-size tests are left out (the sanitizer
# slows the kernels and maps shadow memory), and so is the check of the
# full build's ISA levels (this build has only those the CPU runs).
export LD_PRELOAD="$asan $ubsan"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONPATH="$work"
python -m pytest -q -p no:cacheprovider tests/test_functional_reference.py \
    tests/test_robustness.py -k "not ten_thousand_calls and not ctrl_c and not ci_has" "$@"
