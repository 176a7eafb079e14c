"""Build the Cython extensions of sepconv.

Three facts about the compiler decide the build:

* whether it supports OpenMP: the kernels are parallel when it does and run
  serially when it does not (``sepconv.show_config()`` says which);
* whether it can target x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512): on
  x86-64 the kernel module is compiled once per level and the fastest one the
  running CPU supports is chosen at import, so a built package runs on any
  x86-64 CPU;
* elsewhere (ARM, ...) a single portable kernel module is built.

The compilers differ in how they are asked for these:

* GCC (Linux, manylinux and musllinux images): ``-fopenmp``, linked to
  libgomp (which ``auditwheel repair`` copies into a wheel);
* Apple clang has no ``-fopenmp`` driver flag: the pragmas are handed to its
  preprocessor (``-Xpreprocessor -fopenmp``) and libomp is linked with
  ``-lomp``, found through ``CPPFLAGS``/``CFLAGS``/``LDFLAGS`` (the wheel
  builds point them at a libomp from conda-forge, as scikit-learn does;
  ``delocate`` copies it into the wheel);
* MSVC: ``/openmp`` when compiling (it links vcomp itself) and a single
  baseline kernel build: the SIMD types of the kernels are a GCC/Clang
  extension (MSVC compiles their scalar fallback) and the run-time CPU
  check uses ``__builtin_cpu_supports``, so an ``/arch:AVX2`` build could
  never be chosen.

The target is read from ``sysconfig.get_platform()`` and, on macOS,
``ARCHFLAGS`` (both set by cibuildwheel when it cross-compiles): the x86-64
levels are built only for an x86-64 target, and probe programs are run only
when the target is the machine doing the build.

Environment variables:

``SEPCONV_DISABLE_OPENMP=1``
    build without OpenMP even when the compiler has it.
``SEPCONV_ISA_LEVELS=baseline,avx2``
    build only these of the ISA levels (a quicker build for tools such as
    tools/sanitize.sh; packages build every level).
"""

import os
import platform
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
import kernelgen  # noqa: E402  (writes the unrolled register kernels)

OPENMP_PROBE = textwrap.dedent(
    """
    #include <omp.h>
    #include <stdio.h>
    int main(void) {
        int n = 0;
        #pragma omp parallel reduction(+:n)
        n += 1;
        printf("%d %d\\n", n, omp_get_max_threads());
        return n == omp_get_max_threads() ? 0 : 1;
    }
    """
)

# Each ISA level is the kernel module compiled with these flags on top of -O3.
ISA_LEVELS = {
    "baseline": [],
    "avx2": ["-march=x86-64-v3", "-mtune=generic"],
    "avx512": ["-march=x86-64-v4", "-mtune=generic", "-mprefer-vector-width=512"],
}

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}


def target_machine():
    """Return the architecture the extensions are built for, lower case.

    ``"x86_64"``/``"amd64"``, ``"aarch64"``/``"arm64"``, ...; ``"universal2"``
    for a macOS build of several architectures at once (``-arch`` twice).
    """
    archs = _darwin_archs()
    if archs:
        return archs[0].lower() if len(archs) == 1 else "universal2"
    return sysconfig.get_platform().rsplit("-", 1)[-1].lower()


def _darwin_archs():
    """Return the architectures named by ``-arch`` in ``ARCHFLAGS`` on macOS."""
    if sys.platform != "darwin":
        return []
    words = shlex.split(os.environ.get("ARCHFLAGS", ""))
    return [arch for flag, arch in zip(words, words[1:], strict=False) if flag == "-arch"]


def _native_target():
    """Return True when programs built for the target run on this machine."""
    return target_machine() == platform.machine().lower()


def _compiler_command():
    """Return the C compiler command Python was built with, as a list."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    return cc.split()


def _environment_flags():
    """Return the flags the build takes from the environment for a probe.

    ``CPPFLAGS``, ``CFLAGS`` and ``LDFLAGS`` (where a libomp outside the
    compiler's search path is named) and, on macOS, ``ARCHFLAGS``.
    """
    names = ["CPPFLAGS", "CFLAGS", "LDFLAGS"] + (["ARCHFLAGS"] if sys.platform == "darwin" else [])
    return [flag for name in names for flag in shlex.split(os.environ.get(name, ""))]


def _compiles(flags, source="int main(void) { return 0; }\n", run=False, environment=False):
    """Return True when ``source`` compiles (and, with ``run``, runs) with ``flags``.

    With ``environment`` the probe also gets the flags of the environment
    (see :func:`_environment_flags`).  A probe is run only on a native build.
    """
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        exe = os.path.join(tmp, "probe")
        with open(src, "w") as fh:
            fh.write(source)
        extra = _environment_flags() if environment else []
        cmd = _compiler_command() + [src, "-o", exe] + flags + extra
        try:
            subprocess.run(cmd, check=True, capture_output=True)
            if run and _native_target():
                subprocess.run([exe], check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            return False
    return True


def openmp_flags():
    """Return the OpenMP flags ``(compile, link)``; both ``[]`` when OpenMP is unusable.

    GCC and LLVM clang take ``-fopenmp``; Apple clang takes it only through
    its preprocessor and needs libomp named; MSVC takes ``/openmp`` when
    compiling only.
    """
    if os.environ.get("SEPCONV_DISABLE_OPENMP", "0") not in ("", "0"):
        print("sepconv: OpenMP disabled by SEPCONV_DISABLE_OPENMP", file=sys.stderr)
        return [], []
    if sys.platform == "win32":
        return ["/openmp"], []
    if _compiles(["-fopenmp"], OPENMP_PROBE, run=True):
        return ["-fopenmp"], ["-fopenmp"]
    apple = (["-Xpreprocessor", "-fopenmp"], ["-lomp"])
    if sys.platform == "darwin" and _compiles(apple[0] + apple[1], OPENMP_PROBE, True, True):
        return apple
    print(
        "sepconv: the C compiler has no working OpenMP; the kernels will run "
        "serially (sepconv.show_config() reports this)",
        file=sys.stderr,
    )
    return [], []


def isa_levels():
    """Return the ISA levels this compiler and target architecture can build."""
    if target_machine() not in ("x86_64", "amd64") or sys.platform == "win32":
        return ["baseline"]
    wanted = os.environ.get("SEPCONV_ISA_LEVELS", "").replace(" ", "")
    wanted = wanted.split(",") if wanted else list(ISA_LEVELS)
    return [
        name
        for name, flags in ISA_LEVELS.items()
        if name in wanted and (not flags or _compiles(flags, environment=True))
    ]


def extensions():
    """Return the list of extensions to build."""
    kernelgen.write(os.path.join("sepconv", "_native", "_kernels_blocks.pxi"))
    omp, omp_link = openmp_flags()
    # No loop-to-memcpy rewriting: the kernels' short copies (a bias into an
    # accumulator, a finished block out of it) are much faster as the
    # vectorised loops they are than as library calls.
    base_args = (
        ["/O2"]
        if sys.platform == "win32"
        else ["-O3"]
        + [flag for flag in ["-fno-tree-loop-distribute-patterns"] if _compiles([flag, "-Werror"])]
    )
    common = dict(
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        extra_link_args=omp_link,
    )
    exts = [
        Extension(
            "sepconv._native._runtime",
            ["sepconv/_native/_runtime.pyx"],
            extra_compile_args=base_args + omp,
            **common,
        )
    ]
    for level in isa_levels():
        exts.append(
            Extension(
                f"sepconv._native._kernels_{level}",
                [f"sepconv/_native/_kernels_{level}.pyx"],
                extra_compile_args=base_args + ISA_LEVELS[level] + omp,
                **common,
            )
        )
    return exts


class BuildExt(build_ext):
    """Cythonize and compile extensions in parallel, and leave a copy beside the sources.

    Cython runs here rather than when setup.py is loaded, so that the
    commands that compile nothing (``sdist``, ``egg_info``: each step of
    building an sdist) do not translate the kernels to C.

    The copy makes the checkout itself importable once built: ``python -m
    sepconv`` run from the repository root (as the README's quick start
    does) imports the ``sepconv/`` folder there, not the installed copy.
    """

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def run(self):
        # the C sources replace the .pyx in place: setuptools has annotated
        # these Extension objects, and cythonize returns new ones
        translated = cythonize(
            self.extensions,
            compiler_directives=CYTHON_DIRECTIVES,
            nthreads=os.cpu_count() or 1,
        )
        for ext, c_ext in zip(self.extensions, translated, strict=True):
            ext.sources = c_ext.sources
        super().run()
        if self.inplace:
            return
        for ext in self.extensions:
            built = self.get_ext_fullpath(ext.name)
            beside_sources = os.path.relpath(built, self.build_lib)
            if os.path.isdir(os.path.dirname(beside_sources)):
                shutil.copyfile(built, beside_sources)


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
