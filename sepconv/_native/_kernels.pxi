# The compute kernels of sepconv, shared by every ISA build (_kernels_*.pyx).
#
# Contract with the Python layer (sepconv/functional.py): every array is
# C-contiguous, of one floating dtype, with consistent shapes; the batch is
# not empty; strides, dilations and pads are valid (pads may be negative: a
# window that starts inside the image); n_threads >= 1.  Nothing here checks
# any of that or holds a Python object, and inside the loops only the signal
# poll of _control.pxi takes the GIL.
#
# Work is cut into tiles of whole output rows of one image.  A tile is
#   1. the depthwise result for those rows, written into a per-thread buffer
#      small enough to stay in cache (never the whole intermediate), from
#      the input rows the tile reads, copied first into a per-thread buffer
#      (see _stage_rows), then
#   2. multiplied by the pointwise matrix straight into the output, which was
#      filled with the bias first so the GEMM runs with beta = 1, and
#   3. passed through the activation while it is still hot.
# Tiles go to the threads of one OpenMP region as each thread finishes its
# last; each thread calls BLAS on its own tile, so BLAS must be
# single-threaded in those threads; the region can stop between tiles
# (Ctrl-C, cancellation).  _control.pxi does all three.
#
# Two layouts of the depthwise result exist:
#   "rows"   (pixels x channels, channels contiguous): vectorises over channels;
#            used where there are enough channels and depth multiplier 1:
#            channels_last input, and in ``separable`` channels_first input
#            too, whose tiles are transposed on the way in (staging) and out
#            (the GEMM's result, into the output planes); output pixels go
#            eight at a time through register kernels (see _kernels_blocks.pxi);
#   "planar" (channels x pixels, pixels contiguous): vectorises over the image
#            width; used for everything else.
# The GEMM consumes either layout and writes either output layout through
# BLAS transpose flags.

import numpy as np

from sepconv._native._buffers import empty as _reused_empty

from cython cimport floating
from cython.parallel cimport parallel, prange, threadid
from scipy.linalg.cython_blas cimport sgemm, dgemm

# Activation codes understood by the kernels; anything else is applied in Python.
ACTIVATIONS = {"linear": 0, "relu": 1}
cdef enum:
    ACT_LINEAR = 0
    ACT_RELU = 1

# Up to this many depthwise channels (C * depth_multiplier) the depthwise step
# runs planar (vectorised along the width, as channel vectors would be mostly
# empty), and a channels_first pointwise step is a plain loop vectorised along
# the pixels, which beats a BLAS call that would spend more on packing than on
# arithmetic.  A channels_last output of few channels still goes through BLAS:
# its packed micro-kernel beats any per-pixel loop over a short filter axis.
cdef enum:
    SMALL_K_ = 8


cdef struct Geometry:
    Py_ssize_t H, W, C, dm          # input rows, columns, channels; depth multiplier
    Py_ssize_t kh, kw               # kernel rows and columns
    Py_ssize_t sh, sw, dh, dw       # strides and dilations
    Py_ssize_t pt, pl               # zero rows above, zero columns to the left
    Py_ssize_t Ho, Wo               # output rows and columns
    Py_ssize_t xs_c, xs_h, xs_w     # element strides of one input image


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    # b > 0; C division truncates toward zero, so negative a needs care.
    if a <= 0:
        return -((-a) // b)
    return (a + b - 1) // b


cdef inline Py_ssize_t _floor_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    if a >= 0:
        return a // b
    return -((-a + b - 1) // b)


cdef Geometry _geometry(const Py_ssize_t* x_shape, const Py_ssize_t* dk_shape,
                        const Py_ssize_t* out_shape, bint channels_first,
                        Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                        Py_ssize_t pt, Py_ssize_t pl) noexcept:
    cdef Geometry g
    if channels_first:
        g.C, g.H, g.W = x_shape[1], x_shape[2], x_shape[3]
        g.xs_c, g.xs_h, g.xs_w = g.H * g.W, g.W, 1
    else:
        g.H, g.W, g.C = x_shape[1], x_shape[2], x_shape[3]
        g.xs_c, g.xs_h, g.xs_w = 1, g.W * g.C, g.C
    g.kh, g.kw, g.dm = dk_shape[0], dk_shape[1], dk_shape[3]
    g.sh, g.sw, g.dh, g.dw, g.pt, g.pl = sh, sw, dh, dw, pt, pl
    if channels_first:
        g.Ho, g.Wo = out_shape[2], out_shape[3]
    else:
        g.Ho, g.Wo = out_shape[1], out_shape[2]
    return g


# --------------------------------------------------------------------------
# Depthwise step for output rows [r0, r1) of one image.
#
# Taps are applied three at a time: one pass over the accumulator per three
# taps instead of one per tap, which is what bounds these loops (loads and
# stores, not arithmetic).

cdef inline void _vfma3(floating* acc, Py_ssize_t n, const floating* x0, const floating* w0,
                        const floating* x1, const floating* w1,
                        const floating* x2, const floating* w2) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        acc[i] = acc[i] + x0[i] * w0[i] + x1[i] * w1[i] + x2[i] * w2[i]


cdef inline void _vfma2(floating* acc, Py_ssize_t n, const floating* x0, const floating* w0,
                        const floating* x1, const floating* w1) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        acc[i] = acc[i] + x0[i] * w0[i] + x1[i] * w1[i]


cdef inline void _vfma1(floating* acc, Py_ssize_t n, const floating* x0,
                        const floating* w0) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        acc[i] = acc[i] + x0[i] * w0[i]


cdef inline void _sfma3(floating* acc, Py_ssize_t n, Py_ssize_t step, const floating* x0,
                        floating w0, const floating* x1, floating w1, const floating* x2,
                        floating w2) noexcept nogil:
    cdef Py_ssize_t i
    if step == 1:
        for i in range(n):
            acc[i] = acc[i] + w0 * x0[i] + w1 * x1[i] + w2 * x2[i]
    else:
        for i in range(n):
            acc[i] = acc[i] + w0 * x0[i * step] + w1 * x1[i * step] + w2 * x2[i * step]


cdef inline void _sfma1(floating* acc, Py_ssize_t n, Py_ssize_t step, const floating* x0,
                        floating w0) noexcept nogil:
    cdef Py_ssize_t i
    if step == 1:
        for i in range(n):
            acc[i] = acc[i] + w0 * x0[i]
    else:
        for i in range(n):
            acc[i] = acc[i] + w0 * x0[i * step]


cdef inline const floating* _tap(const floating* xrow, const Geometry* g, Py_ssize_t ow,
                                 Py_ssize_t q, const floating* zero) noexcept nogil:
    """Input pixel under tap column q of output column ow, or the zero row (padding)."""
    cdef Py_ssize_t iw = ow * g.sw - g.pl + q * g.dw
    if iw < 0 or iw >= g.W:
        return zero
    return xrow + iw * g.xs_w


cdef void _row_taps(floating* acc, const floating* xrow, const floating* wrow,
                    const Geometry* g, Py_ssize_t ow, const floating* zero) noexcept nogil:
    """acc += the taps of one kernel row, depth multiplier 1, channels contiguous."""
    cdef Py_ssize_t q = 0, C = g.C
    while q + 3 <= g.kw:
        _vfma3(acc, C, _tap(xrow, g, ow, q, zero), wrow + q * C,
               _tap(xrow, g, ow, q + 1, zero), wrow + (q + 1) * C,
               _tap(xrow, g, ow, q + 2, zero), wrow + (q + 2) * C)
        q += 3
    if g.kw - q == 2:
        _vfma2(acc, C, _tap(xrow, g, ow, q, zero), wrow + q * C,
               _tap(xrow, g, ow, q + 1, zero), wrow + (q + 1) * C)
    elif g.kw - q == 1:
        _vfma1(acc, C, _tap(xrow, g, ow, q, zero), wrow + q * C)


# Blocks of eight output pixels go through the register kernels of
# _kernels_blocks.pxi (generated by tools/kernelgen.py), one channel chunk at
# a time: the chunk is the unit pack_weights lays weights out by.  A block
# on the image's border runs a kernel that reads a zero vector for the input
# columns in the padding, and kernel rows in the padding are skipped for
# every block, so no block reads outside the image or a zero-padded copy of it.
cdef enum:
    BLOCK = 8          # output pixels per block
    CHUNK = 128        # channels per pass over a block


include "_simd.pxi"
include "_kernels_blocks.pxi"
include "_control.pxi"


cdef inline Py_ssize_t _vector_lanes(const floating* like) noexcept nogil:
    """Elements of this dtype in one SIMD vector of the register kernels."""
    if floating is float:
        return VL32
    else:
        return VL64


cdef void _block_tail(floating* dst, Py_ssize_t ldd, Py_ssize_t c_first, Py_ssize_t n,
                      const floating* x, Py_ssize_t row_stride, Py_ssize_t u,
                      Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t kw, Py_ssize_t p0,
                      Py_ssize_t p1, Py_ssize_t j0, Py_ssize_t j1, const floating* w,
                      const floating* bias) noexcept nogil:
    """The register kernels' work for channels c_first..n-1, fewer than one vector."""
    cdef Py_ssize_t c, b, p, q, j
    cdef floating s
    for c in range(c_first, n):
        for b in range(BLOCK):
            s = bias[c]
            for p in range(p0, p1):
                for q in range(kw):
                    j = b * sw + q * dw
                    if j0 <= j < j1:
                        s = s + x[p * row_stride + j * u + c] * w[(p * kw + q) * CHUNK + c]
            dst[b * ldd + c] = s


cdef void _depthwise_block(const floating* x, const Geometry* g, const floating* packed,
                           const floating* bias, const floating* zero, Py_ssize_t r,
                           Py_ssize_t ow, Py_ssize_t step, floating* dst,
                           Py_ssize_t ldd) noexcept nogil:
    """Depthwise result of output pixels ow, ow + step, ..., ow + 7 * step of row r.

    Depth multiplier 1.  A step above 1 is for unit stride with dilation
    ``step``: those pixels' taps then read every step-th input column, a
    pattern of unit stride and dilation over columns ``step`` times as far
    apart, which the fastest kernels serve.  Weights come from ``packed``
    (see pack_weights); ``zero`` holds CHUNK zeros, read for input columns
    in the padding.
    """
    cdef Py_ssize_t ih0 = r * g.sh - g.pt, iw0 = ow * g.sw - g.pl
    # column steps of the block's pixels and taps, in units of ``step`` columns
    cdef Py_ssize_t sw = g.sw if step == 1 else 1, dw = g.dw if step == 1 else 1
    cdef Py_ssize_t u = g.C * step
    # kernel rows p0..p1-1 and the block's input columns j0..j1-1 (in those
    # units) are those inside the image
    cdef Py_ssize_t p0 = min(g.kh, max(0, _ceil_div(-ih0, g.dh)))
    cdef Py_ssize_t p1 = max(p0, min(g.kh, _ceil_div(g.H - ih0, g.dh)))
    cdef Py_ssize_t span = (BLOCK - 1) * sw + (g.kw - 1) * dw + 1
    # (clamped as p0, p1 are: a window wholly right of the image, a live tap
    # that reads only padding, has j1 = j0, not a negative j1, which
    # _dw_block would read as "all inside")
    cdef Py_ssize_t j0 = min(span, max(0, _ceil_div(-iw0, step)))
    cdef Py_ssize_t j1 = max(j0, min(span, _ceil_div(g.W - iw0, step)))
    cdef Py_ssize_t c0 = 0, n, lanes = _vector_lanes(x)
    cdef const floating* base
    cdef const floating* w
    while c0 < g.C:
        n = min(CHUNK, g.C - c0)
        # the block's first input column, which may lie in the padding
        base = x + ih0 * g.xs_h + iw0 * g.C + c0
        w = packed + c0 * g.kh * g.kw
        _dw_block(dst + c0, ldd * step, n, base, g.dh * g.xs_h, u, sw, dw, p0, p1, j0,
                  -1 if j0 == 0 and j1 == span else j1, g.kw, w, bias + c0, zero)
        _block_tail(dst + c0, ldd * step, n - n % lanes, n, base, g.dh * g.xs_h, u, sw, dw,
                    g.kw, p0, p1, j0, j1, w, bias + c0)
        c0 += CHUNK


# Staging: the register kernels read the input rows of a tile from a copy at
# a 64-byte boundary.  NumPy's large arrays start 16 bytes past one, so in
# place every 64-byte vector load straddles two cache lines; and the copy
# reads memory front to back, which the hardware prefetcher streams, where
# the kernels hop between rows and columns.  Measured on S1-S8 (AMD Zen 4):
# up to 9% off the whole layer, S5 (stride 2) and S7 the most; the rows
# copied as the first band reaches them instead were 2-4% slower.  Windows
# of 25 taps and more stay in place: their kernels are bound by arithmetic,
# which in place overlaps the reads from memory and behind the copy waits
# for them (S8, 7x7, two threads: up to 12% slower staged, when the
# machine's memory was busy).
cdef enum:
    STAGE_BYTES_ = 2 * 1024 * 1024   # larger tiles read their input in place
    STAGE_TAPS = 25                  # so do windows of this many taps and more
    ALIGN_BYTES = 64

STAGE_BYTES = STAGE_BYTES_


cdef inline Py_ssize_t _input_rows(const Geometry* g, Py_ssize_t rows) noexcept nogil:
    """Input rows (zero padding included) that ``rows`` output rows read."""
    return (rows - 1) * g.sh + g.dh * (g.kh - 1) + 1


cdef inline bint _channels_last(const Geometry* g) noexcept nogil:
    """Whether ``g`` is of channels_last input (of a 1 x 1 image, xs_c is 1 either way)."""
    return g.xs_w == g.C and g.xs_c == 1


cdef Py_ssize_t _stage_scratch(const Geometry* g, Py_ssize_t rows,
                               Py_ssize_t itemsize) noexcept nogil:
    """Elements of scratch to stage a tile of ``rows`` output rows (0: read in place).

    Channels-first input is always staged: the rows path reads it transposed.
    """
    cdef Py_ssize_t n = min(g.H, _input_rows(g, rows)) * g.W * g.C
    if _channels_last(g) and (n * itemsize > STAGE_BYTES_ or g.kh * g.kw >= STAGE_TAPS):
        return 0
    return n + ALIGN_BYTES // itemsize


cdef void _transpose(const floating* src, Py_ssize_t lds, Py_ssize_t rows, Py_ssize_t cols,
                     floating* dst, Py_ssize_t ldd) noexcept nogil:
    """dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols.

    Between the layouts: channels-first input rows staged channels-last,
    a GEMM's rows written out as channels-first planes, a planar depthwise
    tile written as rows.  In bands of eight rows of whichever side has
    rows far apart (image planes), swept along them: eight streams through
    memory, where a sweep across would touch a new plane at every step,
    and planes a power of two apart share the L1 cache's sets (the output
    planes of S7 on NCHW input, 16 KiB apart: the write-out took 30% of
    the call).  float32 in blocks of 8 x 8 transposed in registers (one
    value at a time, staging alone took 10% of S1's time on NCHW input).
    """
    cdef bint by_cols = ldd > lds     # the destination's rows are the planes
    cdef Py_ssize_t outer = cols if by_cols else rows, inner = rows if by_cols else cols
    # (o, p) is (j, i) by columns, else (i, j)
    cdef Py_ssize_t so = 1 if by_cols else lds, sp = lds if by_cols else 1
    cdef Py_ssize_t do = ldd if by_cols else 1, dp = 1 if by_cols else ldd
    cdef Py_ssize_t o0 = 0, n, p0, p, o
    while o0 < outer:
        n = min(8, outer - o0)
        p0 = 0
        if floating is float and n == 8:
            while p0 + 8 <= inner:
                _transpose8_f32(src + o0 * so + p0 * sp, lds, dst + o0 * do + p0 * dp, ldd)
                p0 += 8
        for p in range(p0, inner):
            for o in range(o0, o0 + n):
                dst[o * do + p * dp] = src[o * so + p * sp]
        o0 += 8


cdef const floating* _stage_rows(const floating* x, const Geometry* g, Py_ssize_t r0,
                                 Py_ssize_t r1, floating* scratch,
                                 Geometry* staged) noexcept nogil:
    """Copy the input rows output rows r0..r1-1 read to an aligned place in scratch.

    Returns the copy; ``staged`` becomes ``g`` as seen from it: the rows
    before the copy count as padding, which they are or which the tile
    does not read.  Channels-first input is copied channels-last, as the
    rows path reads it.
    """
    cdef Py_ssize_t first = max(0, r0 * g.sh - g.pt)
    cdef Py_ssize_t last = min(g.H, r0 * g.sh - g.pt + _input_rows(g, r1 - r0))
    cdef size_t past = (<size_t> scratch) % ALIGN_BYTES
    cdef floating* copy = scratch + (ALIGN_BYTES - past) % ALIGN_BYTES // sizeof(floating)
    staged[0] = g[0]
    staged.H = max(0, last - first)
    staged.pt = g.pt + first
    if _channels_last(g):
        _copy(copy, x + first * g.xs_h, staged.H * g.xs_h * <Py_ssize_t> sizeof(floating))
    else:
        _transpose(x + first * g.xs_h, g.xs_c, g.C, staged.H * g.W, copy, g.C)
        staged.xs_c, staged.xs_h, staged.xs_w = 1, g.W * g.C, g.C
    return copy


cdef void _depthwise_pair(const floating* x, const Geometry* g, const floating* packed,
                          const floating* bias, const floating* zero, Py_ssize_t r,
                          Py_ssize_t ow, Py_ssize_t step, floating* dst, Py_ssize_t ldd,
                          Py_ssize_t ldr) noexcept nogil:
    """_depthwise_block for rows r and r + dh, the second's block at dst + ldr.

    For 3x3 windows at unit stride (and unit dilation within ``step``): where
    both windows lie in the image, the two rows share two of their three
    input rows, which the pair kernel loads once for both.
    """
    cdef Py_ssize_t ih0 = r - g.pt, iw0 = ow - g.pl
    cdef Py_ssize_t span = BLOCK + 2                 # columns a block reads
    cdef Py_ssize_t c0 = 0, n, lanes = _vector_lanes(x)
    cdef const floating* base
    cdef const floating* w
    if ih0 < 0 or ih0 + 3 * g.dh >= g.H or iw0 < 0 or iw0 + (span - 1) * step >= g.W:
        _depthwise_block(x, g, packed, bias, zero, r, ow, step, dst, ldd)
        _depthwise_block(x, g, packed, bias, zero, r + g.dh, ow, step, dst + ldr, ldd)
        return
    while c0 < g.C:
        n = min(CHUNK, g.C - c0)
        base = x + ih0 * g.xs_h + iw0 * g.C + c0
        w = packed + c0 * 9
        _dw_pair(dst + c0, ldd * step, n, base, g.dh * g.xs_h, g.C * step, 1, 1, 0, 3, 0, -1,
                 3, w, bias + c0, zero, ldr)
        _block_tail(dst + c0, ldd * step, n - n % lanes, n, base, g.dh * g.xs_h, g.C * step,
                    1, 1, 3, 0, 3, 0, span, w, bias + c0)
        _block_tail(dst + ldr + c0, ldd * step, n - n % lanes, n, base + g.dh * g.xs_h,
                    g.dh * g.xs_h, g.C * step, 1, 1, 3, 0, 3, 0, span, w, bias + c0)
        c0 += CHUNK


cdef void _depthwise_rows(const floating* x, const Geometry* g, const floating* dk,
                          const floating* packed, const floating* bias, const floating* zero,
                          Py_ssize_t r0, Py_ssize_t r1, floating* dst, Py_ssize_t ldd,
                          floating* stage) noexcept nogil:
    """Depthwise result in "rows" layout: dst[i * ldd + j], pixel i, channel j.

    Needs channels_last input (channels contiguous) and depth multiplier 1;
    ``zero`` holds at least a pixel's and a chunk's worth of zeros, read for
    input in the padding; ``packed`` is the kernel as pack_weights lays it out;
    ``stage``, unless NULL, has _stage_scratch elements to stage the input in.
    """
    cdef Py_ssize_t K = g.C * g.dm
    cdef Py_ssize_t r, ow, p, ih, j, phase
    cdef floating* acc
    cdef Geometry staged
    if stage != NULL:
        x = _stage_rows(x, g, r0, r1, stage, &staged)
        g = &staged
    # Blocks of 8 pixels, or at unit stride and dilation d of d * 8 pixels
    # as d interleaved blocks (see _depthwise_block); the last group is moved
    # back to end at the row's end: the pixels it computes twice come out the
    # same, and no pixel needs the slow per-pixel path.  Each band of block
    # columns runs down the tile's rows, so that the input rows one output
    # row shares with the next are still in L1 for it.
    cdef Py_ssize_t step = g.dw if g.sw == 1 and g.Wo >= g.dw * BLOCK else 1
    # 3x3 windows at unit steps (within ``step``) go two rows at a time
    # (_depthwise_pair): row r with row r + dh, for r in the first half of
    # each 2 * dh rows from r0, where the tile has the partner
    cdef bint pairs = (VREGS >= 32 and g.kh == 3 and g.kw == 3 and g.sh == 1
                       and g.sw == 1 and g.dw == step)
    cdef bint paired
    cdef bint first = True
    ow = 0
    while ow < g.Wo and g.Wo >= BLOCK:
        ow = min(ow, g.Wo - step * BLOCK)
        for phase in range(step):
            for r in range(r0, r1):
                if pairs and (r - r0) % (2 * g.dh) >= g.dh:
                    continue        # done with the row dh above
                paired = pairs and r + g.dh < r1
                if first and stage == NULL:
                    # Input read in place: the first band asks the cache for
                    # the input rows the window takes in at the next output
                    # row; asked one row ahead they arrive in time, where the
                    # hardware prefetcher leaves the kernels waiting on
                    # memory.  (Staged rows are in cache already.  Inline:
                    # GCC drops calls to a function that only prefetches.)
                    # rows past those the last row computed now reads
                    j = (r + g.dh if paired else r) * g.sh - g.pt + _input_rows(g, 1)
                    for ih in range(max(0, j), min(g.H, j + g.sh)):
                        _prefetch(x + ih * g.xs_h, g.W * g.C * <Py_ssize_t> sizeof(floating))
                if paired:
                    _depthwise_pair(x, g, packed, bias, zero, r, ow + phase, step,
                                    dst + ((r - r0) * g.Wo + ow + phase) * ldd, ldd,
                                    g.dh * g.Wo * ldd)
                else:
                    _depthwise_block(x, g, packed, bias, zero, r, ow + phase, step,
                                     dst + ((r - r0) * g.Wo + ow + phase) * ldd, ldd)
            first = False
        ow += step * BLOCK
    if g.Wo >= BLOCK:
        return
    # rows narrower than a block go pixel by pixel
    for r in range(r0, r1):
        for ow in range(g.Wo):
            acc = dst + ((r - r0) * g.Wo + ow) * ldd
            for j in range(K):
                acc[j] = bias[j]
            for p in range(g.kh):
                ih = r * g.sh - g.pt + p * g.dh
                if ih < 0 or ih >= g.H:
                    continue
                _row_taps(acc, x + ih * g.xs_h, dk + p * g.kw * K, g, ow, zero)


cdef inline Py_ssize_t _plane_width(const Geometry* g) noexcept nogil:
    """Columns of the zero-padded input window that output columns 0..Wo-1 read."""
    return (g.Wo - 1) * g.sw + g.dw * (g.kw - 1) + 1


cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

# Scratch sizes at or above this many elements stand for "more than exists":
# far below Py_ssize_t's limit, so that the few bounded sizes added to one
# cannot wrap it, and far above any memory (the allocation raises MemoryError).
cdef Py_ssize_t SCRATCH_CAP = PY_SSIZE_T_MAX >> 4


cdef inline Py_ssize_t _scratch_product(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """a * b for sizes a, b >= 0, or SCRATCH_CAP where that is more.

    The backward kernels keep the padding's taps, so a dilation of 2**31 - 1
    makes planes of 2**40 elements a side, whose product would wrap.
    """
    if a != 0 and b >= SCRATCH_CAP // a:
        return SCRATCH_CAP
    return a * b


cdef Py_ssize_t _planar_scratch(const Geometry* g, Py_ssize_t rows) noexcept nogil:
    """Elements of scratch _depthwise_planar needs for tiles of ``rows`` output rows."""
    return _scratch_product(_input_rows(g, rows) + rows, _plane_width(g))


cdef Py_ssize_t _depthwise_scratch(const Geometry* g, Py_ssize_t rows, bint planar,
                                   Py_ssize_t itemsize) noexcept nogil:
    """Per-thread scratch elements for the depthwise step of a tile of ``rows`` rows.

    The planar path gathers its planes there; the rows path stages its input
    there, or reads it in place where this is 0.
    """
    if planar:
        return _planar_scratch(g, rows)
    return _stage_scratch(g, rows, itemsize)


cdef void _gather_plane(const floating* xc, const Geometry* g, Py_ssize_t ih0,
                        Py_ssize_t rows_in, Py_ssize_t wp, floating* plane) noexcept nogil:
    """Copy input rows ih0.. of one channel into ``plane`` (rows_in x wp), zero-padded.

    After this every tap reads inside the plane: no bounds checks in the
    tap loops, and strided channels_last input becomes contiguous.
    """
    cdef Py_ssize_t a, b, ih
    # plane columns lo..hi-1 hold input columns; pl < 0 starts inside the image
    cdef Py_ssize_t lo = min(max(g.pl, 0), wp), hi = max(lo, min(wp, g.pl + g.W))
    cdef floating* prow
    cdef const floating* xrow
    for a in range(rows_in):
        prow = plane + a * wp
        ih = ih0 + a
        if ih < 0 or ih >= g.H:
            for b in range(wp):
                prow[b] = 0
            continue
        xrow = xc + ih * g.xs_h - g.pl * g.xs_w
        for b in range(lo):
            prow[b] = 0
        if g.xs_w == 1:
            _copy(prow + lo, xrow + lo, (hi - lo) * <Py_ssize_t> sizeof(floating))
        else:
            for b in range(lo, hi):
                prow[b] = xrow[b * g.xs_w]
        for b in range(hi, wp):
            prow[b] = 0


# One output row of one channel from a gathered plane, at unit column stride:
# dst[i] = bias + sum over taps (p, q) of w[(p * kw + q) * w_stride] *
# src[p * dh * wp + q * dw + i].  The row goes in blocks of 8, 4, 2 and 1
# vectors whose accumulators stay in registers across all the taps: each
# output is stored once, each weight loaded once per block, and a block's
# vectors are independent chains of multiply-adds (one vector alone waits on
# each multiply-add's latency; the loop over taps per output, _plane_taps,
# is bound by loads and stores of the accumulator instead).  A row's last
# partial vector is computed as the full vector ending at the row's end: the
# columns it repeats get the same values, in the same order.  Written once
# in C for both dtypes (the vector types of _simd.pxi).
cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    #  define SEPCONV_INLINE static inline __attribute__((always_inline))
    #else
    #  define SEPCONV_INLINE static __forceinline
    #endif
    #define SEPCONV_PLANE_ROW(SUFFIX, T, V, VL)                                   \
    SEPCONV_INLINE void sepconv_plane_block_##SUFFIX(const int U, T *dst,        \
            const T *src, Py_ssize_t wp, Py_ssize_t kh, Py_ssize_t kw,            \
            Py_ssize_t dh, Py_ssize_t dw, const T *w, Py_ssize_t w_stride,        \
            T bias)                                                                \
    {                                                                               \
        V acc[8];                                                                   \
        for (int u = 0; u < U; u++) acc[u] = ((V){0}) + bias;                       \
        for (Py_ssize_t p = 0; p < kh; p++) {                                       \
            for (Py_ssize_t q = 0; q < kw; q++) {                                   \
                const T *s = src + p * dh * wp + q * dw;                            \
                V wt = ((V){0}) + w[(p * kw + q) * w_stride];                       \
                for (int u = 0; u < U; u++) acc[u] += wt * *(const V *)(s + u * VL); \
            }                                                                       \
        }                                                                           \
        for (int u = 0; u < U; u++) *(V *)(dst + u * VL) = acc[u];                 \
    }                                                                               \
    SEPCONV_INLINE void sepconv_plane3_block_##SUFFIX(const int U, T *dst,       \
            const T *src, Py_ssize_t wp, Py_ssize_t dh, Py_ssize_t dw,             \
            const V *wv, T bias)                                                   \
    {                                                                               \
        V acc[4];                                                                   \
        for (int u = 0; u < U; u++) acc[u] = ((V){0}) + bias;                       \
        for (int p = 0; p < 3; p++) {                                               \
            const T *s = src + p * dh * wp;                                         \
            for (int u = 0; u < U; u++)                                             \
                acc[u] += wv[3 * p] * *(const V *)(s + u * VL)                     \
                          + wv[3 * p + 1] * *(const V *)(s + dw + u * VL)          \
                          + wv[3 * p + 2] * *(const V *)(s + 2 * dw + u * VL);     \
        }                                                                           \
        for (int u = 0; u < U; u++) *(V *)(dst + u * VL) = acc[u];                 \
    }                                                                               \
    /* 3x3 windows: the nine weights stay in registers for the whole row.  Every \
       output is summed in the same order wherever it falls in a row, so that  \
       tiles of any height (thread counts) give the same numbers. */             \
    static void sepconv_plane_row3_##SUFFIX(T *dst, Py_ssize_t n, const T *src,    \
            Py_ssize_t wp, Py_ssize_t dh, Py_ssize_t dw, const T *w,               \
            Py_ssize_t w_stride, T bias)                                           \
    {                                                                               \
        V wv[9];                                                                    \
        Py_ssize_t i = 0;                                                           \
        for (int t = 0; t < 9; t++) wv[t] = ((V){0}) + w[t * w_stride];             \
        for (; i + 4 * VL <= n; i += 4 * VL)                                        \
            sepconv_plane3_block_##SUFFIX(4, dst + i, src + i, wp, dh, dw, wv, bias); \
        if (i + 2 * VL <= n) {                                                      \
            sepconv_plane3_block_##SUFFIX(2, dst + i, src + i, wp, dh, dw, wv, bias); \
            i += 2 * VL;                                                            \
        }                                                                           \
        if (i + VL <= n) {                                                          \
            sepconv_plane3_block_##SUFFIX(1, dst + i, src + i, wp, dh, dw, wv, bias); \
            i += VL;                                                                \
        }                                                                           \
        if (i < n && n >= VL)                                                       \
            sepconv_plane3_block_##SUFFIX(1, dst + n - VL, src + n - VL, wp, dh, dw, \
                                          wv, bias);                                \
        /* rows shorter than a vector: the same sums in the same order */          \
        for (; i < n && n < VL; i++) {                                              \
            T acc = bias;                                                           \
            for (int p = 0; p < 3; p++) {                                           \
                const T *s = src + p * dh * wp + i;                                 \
                acc += w[3 * p * w_stride] * s[0] + w[(3 * p + 1) * w_stride] * s[dw] \
                       + w[(3 * p + 2) * w_stride] * s[2 * dw];                     \
            }                                                                       \
            dst[i] = acc;                                                           \
        }                                                                           \
    }                                                                               \
    static void sepconv_plane_row_##SUFFIX(T *dst, Py_ssize_t n, const T *src,     \
            Py_ssize_t wp, Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t dh,            \
            Py_ssize_t dw, const T *w, Py_ssize_t w_stride, T bias)                \
    {                                                                               \
        Py_ssize_t i = 0;                                                           \
        if (kh == 3 && kw == 3) {                                                   \
            sepconv_plane_row3_##SUFFIX(dst, n, src, wp, dh, dw, w, w_stride, bias); \
            return;                                                                 \
        }                                                                           \
        for (; i + 8 * VL <= n; i += 8 * VL)                                        \
            sepconv_plane_block_##SUFFIX(8, dst + i, src + i, wp, kh, kw, dh, dw,  \
                                         w, w_stride, bias);                        \
        for (int u = 4; u >= 1; u /= 2)                                             \
            if (i + u * VL <= n) {                                                  \
                if (u == 4)                                                         \
                    sepconv_plane_block_##SUFFIX(4, dst + i, src + i, wp, kh, kw,  \
                                                 dh, dw, w, w_stride, bias);        \
                else if (u == 2)                                                    \
                    sepconv_plane_block_##SUFFIX(2, dst + i, src + i, wp, kh, kw,  \
                                                 dh, dw, w, w_stride, bias);        \
                else                                                                \
                    sepconv_plane_block_##SUFFIX(1, dst + i, src + i, wp, kh, kw,  \
                                                 dh, dw, w, w_stride, bias);        \
                i += u * VL;                                                        \
            }                                                                       \
        if (i < n && n >= VL) {                                                     \
            sepconv_plane_block_##SUFFIX(1, dst + n - VL, src + n - VL, wp, kh, kw, \
                                         dh, dw, w, w_stride, bias);                \
        } else {                                                                    \
            for (; i < n; i++) {                                                    \
                T acc = bias;                                                       \
                for (Py_ssize_t p = 0; p < kh; p++)                                 \
                    for (Py_ssize_t q = 0; q < kw; q++)                             \
                        acc += w[(p * kw + q) * w_stride]                           \
                               * src[p * dh * wp + q * dw + i];                     \
                dst[i] = acc;                                                       \
            }                                                                       \
        }                                                                           \
    }
    SEPCONV_PLANE_ROW(f32, float, sepconv_vf32, SEPCONV_VL32)
    SEPCONV_PLANE_ROW(f64, double, sepconv_vf64, SEPCONV_VL64)
    """
    void _plane_row_f32 "sepconv_plane_row_f32"(
        float* dst, Py_ssize_t n, const float* src, Py_ssize_t wp, Py_ssize_t kh,
        Py_ssize_t kw, Py_ssize_t dh, Py_ssize_t dw, const float* w, Py_ssize_t w_stride,
        float bias) noexcept nogil
    void _plane_row_f64 "sepconv_plane_row_f64"(
        double* dst, Py_ssize_t n, const double* src, Py_ssize_t wp, Py_ssize_t kh,
        Py_ssize_t kw, Py_ssize_t dh, Py_ssize_t dw, const double* w, Py_ssize_t w_stride,
        double bias) noexcept nogil


cdef inline void _plane_row(floating* dst, Py_ssize_t n, const floating* src, Py_ssize_t wp,
                            const Geometry* g, const floating* w, Py_ssize_t w_stride,
                            floating bias) noexcept nogil:
    """One output row of one channel at unit column stride (see SEPCONV_PLANE_ROW)."""
    if floating is float:
        _plane_row_f32(dst, n, src, wp, g.kh, g.kw, g.dh, g.dw, w, w_stride, bias)
    else:
        _plane_row_f64(dst, n, src, wp, g.kh, g.kw, g.dh, g.dw, w, w_stride, bias)


cdef void _prefetch_plane(const floating* xc, const Geometry* g, Py_ssize_t ih0,
                          Py_ssize_t rows_in) noexcept nogil:
    """Ask the cache for the input rows _gather_plane will copy from channel ``xc``.

    Channels-first input only, where a channel's rows are a few short runs
    of memory far apart (one per channel per tile), which the hardware
    prefetcher does not see coming.  Measured on S1 with NCHW input (AMD
    EPYC Zen 3, one thread, perf samples): the gathers took a quarter less.
    """
    cdef Py_ssize_t ih
    for ih in range(max(ih0, 0), min(ih0 + rows_in, g.H)):
        _prefetch(xc + ih * g.xs_h, g.W * <Py_ssize_t> sizeof(floating))


cdef void _plane_taps(floating* acc, Py_ssize_t n, Py_ssize_t step, const floating* base,
                      Py_ssize_t wp, const Geometry* g, const floating* w,
                      Py_ssize_t w_stride) noexcept nogil:
    """acc[i] += sum over taps t of w[t * w_stride] * base[offset(t) + i * step]."""
    cdef Py_ssize_t t = 0, taps = g.kh * g.kw
    cdef Py_ssize_t o0, o1, o2
    while t + 3 <= taps:
        o0 = (t // g.kw) * g.dh * wp + (t % g.kw) * g.dw
        o1 = ((t + 1) // g.kw) * g.dh * wp + ((t + 1) % g.kw) * g.dw
        o2 = ((t + 2) // g.kw) * g.dh * wp + ((t + 2) % g.kw) * g.dw
        _sfma3(acc, n, step, base + o0, w[t * w_stride], base + o1,
               w[(t + 1) * w_stride], base + o2, w[(t + 2) * w_stride])
        t += 3
    while t < taps:
        o0 = (t // g.kw) * g.dh * wp + (t % g.kw) * g.dw
        _sfma1(acc, n, step, base + o0, w[t * w_stride])
        t += 1


cdef void _depthwise_planar(const floating* x, const Geometry* g, const floating* dk,
                            const floating* bias, Py_ssize_t r0, Py_ssize_t r1,
                            floating* dst, Py_ssize_t ldd, floating* scratch) noexcept nogil:
    """Depthwise result in "planar" layout: dst[j * ldd + i], channel j, pixel i.

    Works for both input layouts.  Each channel's input window is gathered
    into a zero-padded plane.  At unit column stride the register kernel
    (_plane_row) writes each output row in place; rows narrower than one
    vector run as one long row instead (rows laid end to end at the plane's
    width, the few columns between rows computed and dropped), copied out
    after.  Other strides go row by row, tap by tap.
    ``scratch`` holds _planar_scratch(g, r1 - r0) elements.
    """
    cdef Py_ssize_t rows = r1 - r0, K = g.C * g.dm
    cdef Py_ssize_t wp = _plane_width(g), rows_in = _input_rows(g, rows)
    cdef floating* plane = scratch
    cdef floating* flat = scratch + rows_in * wp
    cdef bint in_place = g.sw == 1 and g.Wo >= _vector_lanes(x)
    cdef bint flat_rows = g.sh == 1 and g.sw == 1 and not in_place
    cdef Py_ssize_t c, m, j, a, i, n_flat = (rows - 1) * wp + g.Wo
    cdef floating* acc
    for c in range(g.C):
        if g.xs_w == 1 and c + 1 < g.C:
            _prefetch_plane(x + (c + 1) * g.xs_c, g, r0 * g.sh - g.pt, rows_in)
        _gather_plane(x + c * g.xs_c, g, r0 * g.sh - g.pt, rows_in, wp, plane)
        for m in range(g.dm):
            j = c * g.dm + m
            if in_place:
                for a in range(rows):
                    _plane_row(dst + j * ldd + a * g.Wo, g.Wo, plane + a * g.sh * wp, wp, g,
                               dk + j, K, bias[j])
            elif flat_rows:
                _plane_row(flat, n_flat, plane, wp, g, dk + j, K, bias[j])
                for a in range(rows):
                    acc = dst + j * ldd + a * g.Wo
                    for i in range(g.Wo):
                        acc[i] = flat[a * wp + i]
            else:
                for a in range(rows):
                    acc = dst + j * ldd + a * g.Wo
                    for i in range(g.Wo):
                        acc[i] = bias[j]
                    _plane_taps(acc, g.Wo, g.sw, plane + a * g.sh * wp, wp, g, dk + j, K)


# --------------------------------------------------------------------------
# Pointwise step on one tile of M pixels: c (+)= a @ pk.
#   a  : M x K, "rows" (a[i * lda + k]) or "planar" (a[k * lda + i])
#   pk : K x F, row-major
#   c  : M x F, "rows" (channels_last output) or "planar" (channels_first)

cdef void _fill_bias(floating* c, Py_ssize_t ldc, bint c_planar, Py_ssize_t M,
                     Py_ssize_t F, const floating* bias) noexcept nogil:
    cdef Py_ssize_t i, f
    cdef floating v
    if c_planar:
        for f in range(F):
            v = bias[f]
            for i in range(M):
                c[f * ldc + i] = v
    else:
        for i in range(M):
            for f in range(F):
                c[i * ldc + f] = bias[f]


cdef void _gemm_tile(const floating* a, Py_ssize_t lda, bint a_planar, Py_ssize_t M,
                     Py_ssize_t K, const floating* pk, Py_ssize_t F, floating* c,
                     Py_ssize_t ldc, bint c_planar, Py_ssize_t chunk) noexcept nogil:
    """c += a @ pk, ``chunk`` pixels a BLAS call (0: all M in one; see _blas.py)."""
    _gemm_columns(a, lda, a_planar, M, K, pk, F, F, c, ldc, c_planar, chunk)


cdef void _gemm_columns(const floating* a, Py_ssize_t lda, bint a_planar, Py_ssize_t M,
                        Py_ssize_t K, const floating* pk, Py_ssize_t ldp, Py_ssize_t F,
                        floating* c, Py_ssize_t ldc, bint c_planar,
                        Py_ssize_t chunk) noexcept nogil:
    """_gemm_tile for F columns of a wider matrix: pk's rows are ``ldp`` apart."""
    cdef Py_ssize_t i = 0, step = chunk if chunk > 0 else M
    while i < M:
        _gemm(a + (i if a_planar else i * lda), lda, a_planar, min(step, M - i), K, pk, ldp,
              F, c + (i if c_planar else i * ldc), ldc, c_planar)
        i += step


cdef void _gemm(const floating* a, Py_ssize_t lda, bint a_planar, Py_ssize_t M,
                Py_ssize_t K, const floating* pk, Py_ssize_t ldp, Py_ssize_t F, floating* c,
                Py_ssize_t ldc, bint c_planar) noexcept nogil:
    """c += a @ pk in one BLAS call (column-major, so row-major c is computed as c^T).

    ``pk`` is K x F with its rows ``ldp`` apart (F columns of a wider matrix).
    """
    cdef int m_ = <int> M, k_ = <int> K, f_ = <int> F, lda_ = <int> lda, ldc_ = <int> ldc
    cdef int ldp_ = <int> ldp
    cdef floating one = 1
    cdef char no = b'N'
    cdef char tr = b'T'
    cdef char* ta
    cdef char* tb
    if c_planar:
        # c (M x F, col-major) += op(a) (M x K) @ pk (K x F; pk^T col-major)
        ta = &no if a_planar else &tr
        tb = &tr
        if floating is float:
            sgemm(ta, tb, &m_, &f_, &k_, &one, <float*> a, &lda_, <float*> pk, &ldp_,
                  &one, c, &ldc_)
        else:
            dgemm(ta, tb, &m_, &f_, &k_, &one, <double*> a, &lda_, <double*> pk, &ldp_,
                  &one, c, &ldc_)
    else:
        # c^T (F x M, col-major) += pk^T (F x K) @ op(a)^T (K x M)
        ta = &no
        tb = &tr if a_planar else &no
        if floating is float:
            sgemm(ta, tb, &f_, &m_, &k_, &one, <float*> pk, &ldp_, <float*> a, &lda_,
                  &one, c, &ldc_)
        else:
            dgemm(ta, tb, &f_, &m_, &k_, &one, <double*> pk, &ldp_, <double*> a, &lda_,
                  &one, c, &ldc_)


cdef void _small_pointwise_tile(const floating* a, Py_ssize_t lda, bint a_planar,
                                Py_ssize_t M, Py_ssize_t K, const floating* pk,
                                Py_ssize_t F, const floating* bias, floating* c,
                                Py_ssize_t ldc, bint c_planar) noexcept nogil:
    """c = a @ pk + bias for small K without BLAS, vectorised along c's contiguous axis.

    The first channel's pass writes bias + product, so each output element is
    written from registers or L1 and the tile is swept once, not K + 1 times.
    """
    cdef Py_ssize_t i, k, f
    cdef floating av, w
    cdef floating* ci
    cdef const floating* pkk
    if c_planar:
        for f in range(F):
            ci = c + f * ldc
            w = pk[f]
            for i in range(M):
                ci[i] = bias[f] + w * (a[i] if a_planar else a[i * lda])
            for k in range(1, K):
                w = pk[k * F + f]
                if a_planar:
                    for i in range(M):
                        ci[i] = ci[i] + w * a[k * lda + i]
                else:
                    for i in range(M):
                        ci[i] = ci[i] + w * a[i * lda + k]
    else:
        for i in range(M):
            ci = c + i * ldc
            av = a[i] if a_planar else a[i * lda]
            for f in range(F):
                ci[f] = bias[f] + av * pk[f]
            for k in range(1, K):
                av = a[k * lda + i] if a_planar else a[i * lda + k]
                pkk = pk + k * F
                for f in range(F):
                    ci[f] = ci[f] + av * pkk[f]


cdef void _activate(floating* c, Py_ssize_t ldc, bint c_planar, Py_ssize_t M,
                    Py_ssize_t F, int activation) noexcept nogil:
    cdef Py_ssize_t i, f, rows, cols
    cdef floating* ci
    if activation != ACT_RELU:
        return
    rows, cols = (F, M) if c_planar else (M, F)
    for i in range(rows):
        ci = c + i * ldc
        for f in range(cols):
            # written so that NaN stays NaN, as in max(x, 0) of the frameworks
            if ci[f] < 0:
                ci[f] = 0


cdef void _pointwise_tile(const floating* a, Py_ssize_t lda, bint a_planar, Py_ssize_t M,
                          Py_ssize_t K, const floating* pk, Py_ssize_t F,
                          const floating* bias, floating* c, Py_ssize_t ldc,
                          bint c_planar, int activation, Py_ssize_t chunk) noexcept nogil:
    """c = activation(a @ pk + bias) for one tile, ``chunk`` pixels a BLAS call."""
    if c_planar and K <= SMALL_K_:
        _small_pointwise_tile(a, lda, a_planar, M, K, pk, F, bias, c, ldc, c_planar)
        _activate(c, ldc, c_planar, M, F, activation)
    else:
        _gemm_pointwise(a, lda, a_planar, M, K, pk, F, F, bias, c, ldc, c_planar, activation,
                        chunk)


cdef void _gemm_pointwise(const floating* a, Py_ssize_t lda, bint a_planar, Py_ssize_t M,
                          Py_ssize_t K, const floating* pk, Py_ssize_t ldp, Py_ssize_t F,
                          const floating* bias, floating* c, Py_ssize_t ldc, bint c_planar,
                          int activation, Py_ssize_t chunk) noexcept nogil:
    """_pointwise_tile through BLAS, for F columns of a matrix whose rows are ``ldp`` apart."""
    _fill_bias(c, ldc, c_planar, M, F, bias)
    _gemm_columns(a, lda, a_planar, M, K, pk, ldp, F, c, ldc, c_planar, chunk)
    _activate(c, ldc, c_planar, M, F, activation)


# --------------------------------------------------------------------------
# Entry points.  Each cuts the output into row tiles of one image and
# distributes them over n_threads OpenMP threads.

cdef inline bint _planar(const Geometry* g, bint channels_first) noexcept nogil:
    """Whether the depthwise step runs planar (see the top of this file)."""
    return channels_first or g.dm > 1 or g.C * g.dm <= SMALL_K_


def uses_blas(bint channels_first, Py_ssize_t n_channels):
    """Whether the pointwise step of a tile with ``n_channels`` inputs calls BLAS.

    Only then must BLAS be single-threaded around the kernel call.
    """
    return not (channels_first and n_channels <= SMALL_K_)


cdef void _pack_weights(const floating* dk, Py_ssize_t taps, Py_ssize_t K,
                        floating* packed) noexcept nogil:
    """The depthwise kernel by channel chunk, for the register kernels.

    ``dk`` is the kernel as (taps, K); ``packed`` receives (chunks, taps,
    CHUNK): chunk c holds channels c * CHUNK onwards, tap after tap,
    zero-padded, so that within a chunk every weight sits at a constant
    offset.
    """
    cdef Py_ssize_t c, t, j, k
    for c in range(_ceil_div(K, CHUNK)):
        for t in range(taps):
            for j in range(CHUNK):
                k = c * CHUNK + j
                packed[(c * taps + t) * CHUNK + j] = dk[t * K + k] if k < K else 0


cdef object _workspace(Py_ssize_t n_threads, Py_ssize_t per_thread, dtype):
    """One row of ``per_thread`` scratch elements per thread (at least one element).

    From the reused memory of _buffers: a batch job calls again and again
    with scratch of the same size, which fresh memory would fault in anew
    each call (in a Dask worker, whose MALLOC_TRIM_THRESHOLD_ has glibc map
    and unmap every such block, that was 5% of the time).
    """
    return _reused_empty((n_threads, max(per_thread, 1)), dtype)


cdef tuple _buffers(const Geometry* g, bint planar, Py_ssize_t n_threads,
                    Py_ssize_t per_thread, dtype):
    """Scratch of one call: (per-thread rows, zeros, packed weights).

    Each of the ``n_threads`` rows holds ``per_thread`` elements; the zeros
    are the depthwise step's bias and the input read in the padding (a
    pixel's for the per-pixel path, a chunk's for the register kernels);
    the packed weights (see _pack_weights) are written by the kernel, for
    the rows path only.
    """
    K = g.C * g.dm
    packed = 1 if planar else _ceil_div(K, CHUNK) * g.kh * g.kw * CHUNK
    return (_workspace(n_threads, per_thread, dtype),
            np.zeros(max(K, CHUNK), dtype=dtype), np.empty(packed, dtype=dtype))


cdef inline Py_ssize_t _slice_width(Py_ssize_t F, Py_ssize_t slices) noexcept nogil:
    """Columns of one of ``slices`` column slices of F (any positive value for 0 slices).

    A multiple of 16 columns, so that no slice splits a GEMM kernel's block.
    """
    return _ceil_div(_ceil_div(F, max(1, slices)), 16) * 16


cdef void _separable_sliced(const floating* x, const Geometry* g, const floating* dk,
                            const floating* packed, const floating* zero, const floating* pk, Py_ssize_t F,
                            const floating* bias, floating* out, Py_ssize_t N,
                            Py_ssize_t rows_per_tile, Py_ssize_t slices, int activation,
                            int n_threads, Py_ssize_t gemm_pixels, floating* work,
                            Py_ssize_t ldw, bint staged, floating* whole,
                            Control* ctl) noexcept nogil:
    """separable's sliced schedule (channels_last, rows path): see its docstring.

    ``whole`` receives the depthwise result of the batch, pixel after pixel;
    ``work`` holds a row of ``ldw`` staging elements per thread.
    """
    cdef Py_ssize_t K = g.C * g.dm, M = N * g.Ho * g.Wo
    cdef Py_ssize_t tiles_per_image = _ceil_div(g.Ho, rows_per_tile)
    cdef Py_ssize_t width = _slice_width(F, slices)
    cdef Py_ssize_t t, n, r0, r1, s, f0, f1
    cdef floating* stage
    with parallel(num_threads=n_threads):
        _blas_enter(ctl)
        stage = work + threadid() * ldw
        for t in prange(N * tiles_per_image, schedule="dynamic"):
            if _stopped(ctl):
                continue
            n = t // tiles_per_image
            r0 = (t % tiles_per_image) * rows_per_tile
            r1 = min(r0 + rows_per_tile, g.Ho)
            _depthwise_rows(x + n * g.H * g.W * g.C, g, dk, packed, zero, zero, r0, r1,
                            whole + (n * g.Ho + r0) * g.Wo * K, K, stage if staged else NULL)
        # (the loop ends at a barrier: every slice reads all of ``whole``)
        for s in prange(slices, schedule="dynamic"):
            if _stopped(ctl):
                continue
            f0 = min(F, s * width)
            f1 = min(F, f0 + width)
            if f1 > f0:
                _gemm_pointwise(whole, K, False, M, K, pk + f0, F, f1 - f0, bias + f0, out + f0,
                                F, False, activation, gemm_pixels)
        _blas_exit(ctl)


def separable(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] depthwise_kernel,
              const floating[:, ::1] pointwise_kernel, const floating[::1] bias,
              floating[:, :, :, ::1] out, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh,
              Py_ssize_t dw, Py_ssize_t pt, Py_ssize_t pl, bint channels_first,
              Py_ssize_t rows_per_tile, Py_ssize_t images_per_tile,
              Py_ssize_t filter_slices, int activation, int n_threads,
              Py_ssize_t gemm_pixels, int[::1] cancel, bint poll, intptr_t blas_set_local,
              intptr_t blas_users):
    """Fused separable convolution: out = activation(pointwise(depthwise(x)) + bias).

    A tile is ``rows_per_tile`` output rows of one image or, where
    ``images_per_tile`` > 1 (whole images, channels_last only), that many
    consecutive images, whose pixels go through one GEMM.  ``gemm_pixels``
    pixels go to one BLAS call (0: a whole tile; see _blas.py); the last
    four arguments are the call's control (see _control.pxi).

    ``filter_slices`` > 0 (channels_last only) splits the work the other way,
    for a batch whose whole depthwise result is small beside what tiles
    would pack of a wide pointwise matrix (one 19x19 image into 728 x 728;
    MobileNet's 32 7x7 images into 1024 x 1024 on two threads): the threads
    first compute the depthwise result of the whole batch in tiles of
    ``rows_per_tile`` rows, then each multiplies all of it by its own slice
    of the matrix's columns.  One GEMM per slice then packs the matrix once
    in all, instead of once per tile of a few dozen pixels, and every thread
    has work even when the batch has fewer rows than threads want tiles
    (see ``_tiling.filter_slices``).
    """
    cdef Geometry g = _geometry(x.shape, depthwise_kernel.shape, out.shape,
                                channels_first, sh, sw, dh, dw, pt, pl)
    cdef Py_ssize_t K = g.C * g.dm, F = pointwise_kernel.shape[1]
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t tiles_per_image = _ceil_div(g.Ho, rows_per_tile)
    cdef Py_ssize_t image_in = g.H * g.W * g.C, image_out = g.Ho * g.Wo * F
    # channels_first input with many channels takes the rows path too: its
    # input rows staged channels-last (_stage_rows), and each tile's GEMM
    # written channels-last into scratch and from there transposed into the
    # output planes (``rows_out``).  The planar path's per-channel gathers
    # and taps took twice the rows path's time, and its GEMM, pixels on
    # BLAS's M side, packed them 3x slower (S1 on NCHW input: 67 -> 60 ms)
    cdef bint planar = _planar(&g, False)
    cdef bint rows_out = channels_first and not planar
    cdef Py_ssize_t ipt = images_per_tile
    cdef Py_ssize_t n_tiles = _ceil_div(N, ipt) if ipt > 1 else N * tiles_per_image
    if planar or channels_first:
        filter_slices = 0   # the sliced schedule is for channels_last rows only
    # the sliced schedule keeps its depthwise result in ``whole``, not per thread
    cdef Py_ssize_t tile_size = 0 if filter_slices > 0 else rows_per_tile * g.Wo * K * ipt
    cdef Py_ssize_t scratch = _depthwise_scratch(&g, rows_per_tile, planar, sizeof(floating))
    cdef Py_ssize_t out_tile = rows_per_tile * g.Wo * F if rows_out else 0
    work_, zero_, packed_ = _buffers(&g, planar, n_threads, tile_size + scratch + out_tile,
                                     np.asarray(out).dtype)
    cdef floating[:, ::1] work = work_
    cdef floating[::1] zero = zero_
    cdef floating[::1] packed = packed_
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* dkp = &depthwise_kernel[0, 0, 0, 0]
    cdef const floating* pkp = &pointwise_kernel[0, 0]
    cdef const floating* bp = &bias[0]
    cdef const floating* zp = &zero[0]
    cdef floating* pp = &packed[0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef Control ctl = _control(cancel, poll, blas_set_local, blas_users)
    cdef Py_ssize_t t, n, n1, i, r0, r1, Mi, M, lda, ldc
    cdef floating* buf
    cdef floating* ctile
    cdef floating[::1] whole
    if filter_slices > 0:
        whole = _reused_empty((N * g.Ho * g.Wo * K,), np.asarray(out).dtype)
    with nogil:
        if not planar:
            _pack_weights(dkp, g.kh * g.kw, K, pp)
        if filter_slices > 0:
            _separable_sliced(xp, &g, dkp, pp, zp, pkp, F, bp, op, N, rows_per_tile,
                              filter_slices, activation, n_threads, gemm_pixels, &work[0, 0],
                              work.shape[1], scratch > 0, &whole[0], &ctl)
        else:
            with parallel(num_threads=n_threads):
                _blas_enter(&ctl)
                buf = &work[threadid(), 0]
                for t in prange(n_tiles, schedule="dynamic"):
                    if _stopped(&ctl):
                        continue
                    if ipt > 1:
                        n = t * ipt
                        n1 = min(n + ipt, N)
                        r0 = 0
                        r1 = g.Ho
                    else:
                        n = t // tiles_per_image
                        n1 = n + 1
                        r0 = (t % tiles_per_image) * rows_per_tile
                        r1 = min(r0 + rows_per_tile, g.Ho)
                    Mi = (r1 - r0) * g.Wo
                    M = Mi * (n1 - n)
                    lda = M if planar else K
                    for i in range(n, n1):
                        if planar:
                            _depthwise_planar(xp + i * image_in, &g, dkp, zp, r0, r1,
                                              buf + (i - n) * Mi, M, buf + tile_size)
                        else:
                            _depthwise_rows(xp + i * image_in, &g, dkp, pp, zp, zp, r0, r1,
                                            buf + (i - n) * Mi * K, K,
                                            buf + tile_size if scratch else NULL)
                    if rows_out:
                        ctile = buf + tile_size + scratch
                        _pointwise_tile(buf, lda, False, M, K, pkp, F, bp, ctile, F, False,
                                        activation, gemm_pixels)
                        _transpose(ctile, F, M, F, op + n * image_out + r0 * g.Wo, g.Ho * g.Wo)
                        continue
                    if channels_first:
                        ctile = op + n * image_out + r0 * g.Wo
                        ldc = g.Ho * g.Wo
                    else:
                        ctile = op + n * image_out + r0 * g.Wo * F
                        ldc = F
                    _pointwise_tile(buf, lda, planar, M, K, pkp, F, bp, ctile, ldc,
                                    channels_first, activation, gemm_pixels)
                _blas_exit(&ctl)
    _finish(&ctl)


def depthwise(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] depthwise_kernel,
              const floating[::1] bias, floating[:, :, :, ::1] out,
              Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
              Py_ssize_t pt, Py_ssize_t pl, bint channels_first,
              Py_ssize_t rows_per_tile, int activation, int n_threads, int[::1] cancel,
              bint poll, intptr_t blas_set_local, intptr_t blas_users):
    """Depthwise convolution: out = activation(depthwise(x) + bias).

    The tiles are computed straight into ``out``: "rows" layout for
    channels_last, "planar" for channels_first.  The last four arguments
    are the call's control (see _control.pxi; this kernel calls no BLAS).
    """
    cdef Geometry g = _geometry(x.shape, depthwise_kernel.shape, out.shape,
                                channels_first, sh, sw, dh, dw, pt, pl)
    cdef Py_ssize_t K = g.C * g.dm, N = x.shape[0]
    cdef Py_ssize_t tiles_per_image = _ceil_div(g.Ho, rows_per_tile)
    cdef Py_ssize_t image_in = g.H * g.W * g.C, image_out = g.Ho * g.Wo * K
    cdef bint planar = _planar(&g, channels_first)
    # scratch: a planar tile to transpose into channels_last output
    cdef Py_ssize_t tile_size = rows_per_tile * g.Wo * K if planar and not channels_first else 0
    cdef Py_ssize_t scratch = _depthwise_scratch(&g, rows_per_tile, planar, sizeof(floating))
    work_, zero_, packed_ = _buffers(&g, planar, n_threads, tile_size + scratch,
                                     np.asarray(out).dtype)
    cdef floating[:, ::1] work = work_
    cdef floating[::1] zero = zero_
    cdef floating[::1] packed = packed_
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* dkp = &depthwise_kernel[0, 0, 0, 0]
    cdef const floating* bp = &bias[0]
    cdef const floating* zp = &zero[0]
    cdef floating* pp = &packed[0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef Control ctl = _control(cancel, poll, blas_set_local, blas_users)
    cdef Py_ssize_t t, n, r0, r1, M
    cdef floating* ctile
    cdef floating* buf
    with nogil:
        if not planar:
            _pack_weights(dkp, g.kh * g.kw, K, pp)
        with parallel(num_threads=n_threads):
            buf = &work[threadid(), 0]
            for t in prange(N * tiles_per_image, schedule="dynamic"):
                if _stopped(&ctl):
                    continue
                n = t // tiles_per_image
                r0 = (t % tiles_per_image) * rows_per_tile
                r1 = min(r0 + rows_per_tile, g.Ho)
                M = (r1 - r0) * g.Wo
                if channels_first:
                    ctile = op + n * image_out + r0 * g.Wo
                    _depthwise_planar(xp + n * image_in, &g, dkp, bp, r0, r1, ctile,
                                      g.Ho * g.Wo, buf)
                    _activate(ctile, g.Ho * g.Wo, True, M, K, activation)
                else:
                    ctile = op + n * image_out + r0 * g.Wo * K
                    if planar:
                        _depthwise_planar(xp + n * image_in, &g, dkp, bp, r0, r1, buf, M,
                                          buf + tile_size)
                        _transpose(buf, M, K, M, ctile, K)
                    else:
                        _depthwise_rows(xp + n * image_in, &g, dkp, pp, bp, zp, r0, r1,
                                        ctile, K, buf + tile_size if scratch else NULL)
                    _activate(ctile, K, False, M, K, activation)
    _finish(&ctl)


def pointwise(const floating[:, :, :, ::1] x, const floating[:, ::1] pointwise_kernel,
              const floating[::1] bias, floating[:, :, :, ::1] out, bint channels_first,
              Py_ssize_t pixels_per_tile, Py_ssize_t filter_slices, int activation,
              int n_threads, Py_ssize_t gemm_pixels, int[::1] cancel, bint poll,
              intptr_t blas_set_local, intptr_t blas_users):
    """Pointwise (1x1) convolution: out = activation(x @ pointwise_kernel + bias).

    Tiles of ``pixels_per_tile`` pixels of one image; or, where
    ``filter_slices`` > 0 (channels_last only), every pixel of the batch
    times that many column slices of the matrix, one GEMM each, so that the
    matrix is packed once (see ``_tiling.filter_slices``).
    ``gemm_pixels`` pixels go to one BLAS call (0: a whole tile; see _blas.py);
    the last four arguments are the call's control (see _control.pxi).
    """
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t K = pointwise_kernel.shape[0], F = pointwise_kernel.shape[1]
    cdef Py_ssize_t P = x.shape[2] * x.shape[3] if channels_first else x.shape[1] * x.shape[2]
    cdef Py_ssize_t tiles_per_image = _ceil_div(P, pixels_per_tile)
    cdef Py_ssize_t width = _slice_width(F, filter_slices)
    cdef Py_ssize_t n_tiles = filter_slices if filter_slices > 0 else N * tiles_per_image
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* pkp = &pointwise_kernel[0, 0]
    cdef const floating* bp = &bias[0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef Control ctl = _control(cancel, poll, blas_set_local, blas_users)
    cdef Py_ssize_t t, n, p0, M, f0, f1
    with nogil, parallel(num_threads=n_threads):
        _blas_enter(&ctl)
        for t in prange(n_tiles, schedule="dynamic"):
            if _stopped(&ctl):
                continue
            if filter_slices > 0:
                f0 = min(F, t * width)
                f1 = min(F, f0 + width)
                if f1 > f0:
                    _gemm_pointwise(xp, K, False, N * P, K, pkp + f0, F, f1 - f0, bp + f0,
                                    op + f0, F, False, activation, gemm_pixels)
                continue
            n = t // tiles_per_image
            p0 = (t % tiles_per_image) * pixels_per_tile
            M = min(p0 + pixels_per_tile, P) - p0
            if channels_first:
                _pointwise_tile(xp + n * P * K + p0, P, True, M, K, pkp, F, bp,
                                op + n * P * F + p0, P, True, activation, gemm_pixels)
            else:
                _pointwise_tile(xp + (n * P + p0) * K, K, False, M, K, pkp, F, bp,
                                op + (n * P + p0) * F, F, False, activation, gemm_pixels)
        _blas_exit(&ctl)
    _finish(&ctl)


include "_kernels_grad.pxi"
