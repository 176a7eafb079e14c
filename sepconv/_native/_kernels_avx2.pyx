"""sepconv kernels compiled for the avx2 ISA level (see setup.py); the body
is shared by every level and lives in _kernels.pxi."""

include "_kernels.pxi"
