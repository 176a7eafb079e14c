#!/usr/bin/env bash
# cibuildwheel's before-build on macOS (pyproject.toml): unpack the OpenMP
# runtime into $SEPCONV_LIBOMP, for the architecture $SEPCONV_LIBOMP_ARCH
# (osx-64 or osx-arm64).  macOS has no OpenMP runtime; as scikit-learn's wheel
# builds do, this takes conda-forge's llvm-openmp 11.1.0, built for macOS
# 10.9 (x86-64) and 11.0 (arm64), older than the wheels' deployment targets,
# so that the copy delocate puts into the wheel runs wherever the wheel
# installs.  setup.py finds it through CFLAGS and LDFLAGS (set beside
# SEPCONV_LIBOMP in pyproject.toml) and links it with
# `-Xpreprocessor -fopenmp -lomp`.
set -euo pipefail
case "$SEPCONV_LIBOMP_ARCH" in
    osx-64) build=hda6cdc1_1 ;;
    osx-arm64) build=hf3c4609_1 ;;
    *) echo "macos_libomp.sh: unknown SEPCONV_LIBOMP_ARCH '$SEPCONV_LIBOMP_ARCH'" >&2; exit 1 ;;
esac
if [ -f "$SEPCONV_LIBOMP/lib/libomp.dylib" ]; then
    exit 0  # a build of another Python version unpacked it already
fi
mkdir -p "$SEPCONV_LIBOMP"
url="https://anaconda.org/conda-forge/llvm-openmp/11.1.0/download/$SEPCONV_LIBOMP_ARCH/llvm-openmp-11.1.0-$build.tar.bz2"
curl -fsSL "$url" | tar -xj -C "$SEPCONV_LIBOMP"
ls -l "$SEPCONV_LIBOMP/lib/libomp.dylib" "$SEPCONV_LIBOMP/include/omp.h"
