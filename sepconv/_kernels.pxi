# The compute kernels of sepconv, shared by every ISA build (_kernels_*.pyx).
#
# Contract with the Python layer (sepconv/functional.py): every array is
# C-contiguous, of one floating dtype, with consistent shapes; the batch is
# not empty; strides, dilations and pads are valid; n_threads >= 1.  Nothing
# here checks any of that, holds a Python object, or touches the GIL inside
# the loops.
#
# Work is cut into tiles of whole output rows of one image.  A tile is
#   1. the depthwise result for those rows, written into a per-thread buffer
#      small enough to stay in cache (never the whole intermediate), then
#   2. multiplied by the pointwise matrix straight into the output, which was
#      filled with the bias first so the GEMM runs with beta = 1, and
#   3. passed through the activation while it is still hot.
# Tiles are distributed over threads with prange; each thread calls BLAS on
# its own tile, so BLAS must be single-threaded (functional.py sees to it).
#
# Two layouts of the depthwise result exist:
#   "rows"   (pixels x channels, channels contiguous): vectorises over channels;
#            used for channels_last input with enough channels;
#   "planar" (channels x pixels, pixels contiguous): vectorises over the image
#            width; used for channels_first input and for few channels.
# The GEMM consumes either layout and writes either output layout through
# BLAS transpose flags, so channels_first needs no transposed copies.

from cython cimport floating
from cython.parallel cimport prange, threadid
from scipy.linalg.cython_blas cimport sgemm, dgemm

# Activation codes understood by the kernels; anything else is applied in Python.
ACTIVATIONS = {"linear": 0, "relu": 1}
cdef enum:
    ACT_LINEAR = 0
    ACT_RELU = 1

# Up to this many depthwise channels (C * depth_multiplier) the pointwise step
# is a plain loop vectorised over the filters: a BLAS call would spend more on
# packing than on arithmetic, and the layer is bound by writing the output.
cdef enum:
    SMALL_K_ = 8
SMALL_K = SMALL_K_


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

cdef void _depthwise_rows(const floating* x, const Geometry* g, const floating* dk,
                          const floating* bias, Py_ssize_t r0, Py_ssize_t r1,
                          floating* dst, Py_ssize_t ldd) noexcept nogil:
    """Depthwise result in "rows" layout: dst[i * ldd + j], pixel i, channel j.

    Needs channels_last input (channels contiguous).  ``bias`` may be NULL.
    """
    cdef Py_ssize_t K = g.C * g.dm
    cdef Py_ssize_t r, ow, p, q, ih, iw, c, m, j
    cdef floating* acc
    cdef const floating* xp
    cdef const floating* wp
    cdef floating xv
    for r in range(r0, r1):
        for ow in range(g.Wo):
            acc = dst + ((r - r0) * g.Wo + ow) * ldd
            if bias != NULL:
                for j in range(K):
                    acc[j] = bias[j]
            else:
                for j in range(K):
                    acc[j] = 0
            for p in range(g.kh):
                ih = r * g.sh - g.pt + p * g.dh
                if ih < 0 or ih >= g.H:
                    continue
                for q in range(g.kw):
                    iw = ow * g.sw - g.pl + q * g.dw
                    if iw < 0 or iw >= g.W:
                        continue
                    xp = x + ih * g.xs_h + iw * g.xs_w
                    wp = dk + (p * g.kw + q) * K
                    if g.dm == 1:
                        for c in range(g.C):
                            acc[c] = acc[c] + xp[c] * wp[c]
                    else:
                        for c in range(g.C):
                            xv = xp[c]
                            for m in range(g.dm):
                                acc[c * g.dm + m] = acc[c * g.dm + m] + xv * wp[c * g.dm + m]


cdef void _depthwise_planar(const floating* x, const Geometry* g, const floating* dk,
                            const floating* bias, Py_ssize_t r0, Py_ssize_t r1,
                            floating* dst, Py_ssize_t ldd) noexcept nogil:
    """Depthwise result in "planar" layout: dst[j * ldd + i], channel j, pixel i.

    Works for both input layouts; the inner loop runs along output columns
    and is contiguous for channels_first input at stride 1.  ``bias`` may be NULL.
    """
    cdef Py_ssize_t r, ow, p, q, ih, c, m, j, off, lo, hi
    cdef floating* acc
    cdef const floating* xrow
    cdef floating wv, init
    cdef bint contiguous = g.sw == 1 and g.xs_w == 1
    for c in range(g.C):
        for m in range(g.dm):
            j = c * g.dm + m
            init = bias[j] if bias != NULL else 0
            for r in range(r0, r1):
                acc = dst + j * ldd + (r - r0) * g.Wo
                for ow in range(g.Wo):
                    acc[ow] = init
                for p in range(g.kh):
                    ih = r * g.sh - g.pt + p * g.dh
                    if ih < 0 or ih >= g.H:
                        continue
                    xrow = x + c * g.xs_c + ih * g.xs_h
                    for q in range(g.kw):
                        wv = dk[((p * g.kw + q) * g.C + c) * g.dm + m]
                        # input column of output column ow is ow * sw + off;
                        # [lo, hi) are the output columns that land inside the image
                        off = q * g.dw - g.pl
                        lo = _ceil_div(-off, g.sw)
                        if lo < 0:
                            lo = 0
                        hi = _floor_div(g.W - 1 - off, g.sw) + 1
                        if hi > g.Wo:
                            hi = g.Wo
                        if contiguous:
                            for ow in range(lo, hi):
                                acc[ow] = acc[ow] + wv * xrow[ow + off]
                        else:
                            for ow in range(lo, hi):
                                acc[ow] = acc[ow] + wv * xrow[(ow * g.sw + off) * g.xs_w]


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
                     Py_ssize_t ldc, bint c_planar) noexcept nogil:
    """c += a @ pk through BLAS (column-major, so row-major c is computed as c^T)."""
    cdef int m_ = <int> M, k_ = <int> K, f_ = <int> F, lda_ = <int> lda, ldc_ = <int> ldc
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
            sgemm(ta, tb, &m_, &f_, &k_, &one, <float*> a, &lda_, <float*> pk, &f_,
                  &one, c, &ldc_)
        else:
            dgemm(ta, tb, &m_, &f_, &k_, &one, <double*> a, &lda_, <double*> pk, &f_,
                  &one, c, &ldc_)
    else:
        # c^T (F x M, col-major) += pk^T (F x K) @ op(a)^T (K x M)
        ta = &no
        tb = &tr if a_planar else &no
        if floating is float:
            sgemm(ta, tb, &f_, &m_, &k_, &one, <float*> pk, &f_, <float*> a, &lda_,
                  &one, c, &ldc_)
        else:
            dgemm(ta, tb, &f_, &m_, &k_, &one, <double*> pk, &f_, <double*> a, &lda_,
                  &one, c, &ldc_)


cdef void _small_pointwise_tile(const floating* a, Py_ssize_t lda, bint a_planar,
                                Py_ssize_t M, Py_ssize_t K, const floating* pk,
                                Py_ssize_t F, floating* c, Py_ssize_t ldc,
                                bint c_planar) noexcept nogil:
    """c += a @ pk for small K, without BLAS; vectorised over c's contiguous axis."""
    cdef Py_ssize_t i, k, f
    cdef floating av, w
    cdef floating* ci
    cdef const floating* pkk
    cdef const floating* ak
    if c_planar:
        for f in range(F):
            ci = c + f * ldc
            for k in range(K):
                w = pk[k * F + f]
                if a_planar:
                    ak = a + k * lda
                    for i in range(M):
                        ci[i] = ci[i] + w * ak[i]
                else:
                    for i in range(M):
                        ci[i] = ci[i] + w * a[i * lda + k]
    else:
        for i in range(M):
            ci = c + i * ldc
            for k in range(K):
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
                          bint c_planar, int activation) noexcept nogil:
    """c = activation(a @ pk + bias) for one tile."""
    _fill_bias(c, ldc, c_planar, M, F, bias)
    if K <= SMALL_K_:
        _small_pointwise_tile(a, lda, a_planar, M, K, pk, F, c, ldc, c_planar)
    else:
        _gemm_tile(a, lda, a_planar, M, K, pk, F, c, ldc, c_planar)
    _activate(c, ldc, c_planar, M, F, activation)


# --------------------------------------------------------------------------
# Entry points.  Each cuts the output into row tiles of one image and
# distributes them over n_threads OpenMP threads.

def uses_planar_depthwise(bint channels_first, Py_ssize_t n_depthwise_channels):
    """Return True when the fused kernel computes the depthwise step planar."""
    return channels_first or n_depthwise_channels <= SMALL_K_


def separable(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] depthwise_kernel,
              const floating[:, ::1] pointwise_kernel, const floating[::1] bias,
              floating[:, :, :, ::1] out, floating[:, ::1] work,
              Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
              Py_ssize_t pt, Py_ssize_t pl, bint channels_first,
              Py_ssize_t rows_per_tile, int activation, int n_threads):
    """Fused separable convolution: out = activation(pointwise(depthwise(x)) + bias).

    ``work`` holds one row per thread of at least ``rows_per_tile * Wo * C * dm``
    elements: each thread's depthwise tile.
    """
    cdef Geometry g = _geometry(x.shape, depthwise_kernel.shape, out.shape,
                                channels_first, sh, sw, dh, dw, pt, pl)
    cdef Py_ssize_t K = g.C * g.dm, F = pointwise_kernel.shape[1]
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t tiles_per_image = _ceil_div(g.Ho, rows_per_tile)
    cdef Py_ssize_t image_in = g.H * g.W * g.C, image_out = g.Ho * g.Wo * F
    cdef bint planar = uses_planar_depthwise(channels_first, K)
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* dkp = &depthwise_kernel[0, 0, 0, 0]
    cdef const floating* pkp = &pointwise_kernel[0, 0]
    cdef const floating* bp = &bias[0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef Py_ssize_t t, n, r0, r1, M, lda, ldc
    cdef floating* buf
    cdef floating* ctile
    for t in prange(N * tiles_per_image, nogil=True, num_threads=n_threads,
                    schedule="static"):
        n = t // tiles_per_image
        r0 = (t % tiles_per_image) * rows_per_tile
        r1 = min(r0 + rows_per_tile, g.Ho)
        M = (r1 - r0) * g.Wo
        buf = &work[threadid(), 0]
        if planar:
            _depthwise_planar(xp + n * image_in, &g, dkp, NULL, r0, r1, buf, M)
            lda = M
        else:
            _depthwise_rows(xp + n * image_in, &g, dkp, NULL, r0, r1, buf, K)
            lda = K
        if channels_first:
            ctile = op + n * image_out + r0 * g.Wo
            ldc = g.Ho * g.Wo
        else:
            ctile = op + n * image_out + r0 * g.Wo * F
            ldc = F
        _pointwise_tile(buf, lda, planar, M, K, pkp, F, bp, ctile, ldc, channels_first,
                        activation)


def depthwise(const floating[:, :, :, ::1] x, const floating[:, :, :, ::1] depthwise_kernel,
              const floating[::1] bias, floating[:, :, :, ::1] out,
              Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
              Py_ssize_t pt, Py_ssize_t pl, bint channels_first,
              Py_ssize_t rows_per_tile, int activation, int n_threads):
    """Depthwise convolution: out = activation(depthwise(x) + bias)."""
    cdef Geometry g = _geometry(x.shape, depthwise_kernel.shape, out.shape,
                                channels_first, sh, sw, dh, dw, pt, pl)
    cdef Py_ssize_t K = g.C * g.dm, N = x.shape[0]
    cdef Py_ssize_t tiles_per_image = _ceil_div(g.Ho, rows_per_tile)
    cdef Py_ssize_t image_in = g.H * g.W * g.C, image_out = g.Ho * g.Wo * K
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* dkp = &depthwise_kernel[0, 0, 0, 0]
    cdef const floating* bp = &bias[0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef Py_ssize_t t, n, r0, r1, M
    cdef floating* ctile
    for t in prange(N * tiles_per_image, nogil=True, num_threads=n_threads,
                    schedule="static"):
        n = t // tiles_per_image
        r0 = (t % tiles_per_image) * rows_per_tile
        r1 = min(r0 + rows_per_tile, g.Ho)
        M = (r1 - r0) * g.Wo
        if channels_first:
            ctile = op + n * image_out + r0 * g.Wo
            _depthwise_planar(xp + n * image_in, &g, dkp, bp, r0, r1, ctile, g.Ho * g.Wo)
            _activate(ctile, g.Ho * g.Wo, True, M, K, activation)
        else:
            ctile = op + n * image_out + r0 * g.Wo * K
            _depthwise_rows(xp + n * image_in, &g, dkp, bp, r0, r1, ctile, K)
            _activate(ctile, K, False, M, K, activation)


def pointwise(const floating[:, :, :, ::1] x, const floating[:, ::1] pointwise_kernel,
              const floating[::1] bias, floating[:, :, :, ::1] out, bint channels_first,
              Py_ssize_t pixels_per_tile, int activation, int n_threads):
    """Pointwise (1x1) convolution: out = activation(x @ pointwise_kernel + bias)."""
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t K = pointwise_kernel.shape[0], F = pointwise_kernel.shape[1]
    cdef Py_ssize_t P = x.shape[2] * x.shape[3] if channels_first else x.shape[1] * x.shape[2]
    cdef Py_ssize_t tiles_per_image = _ceil_div(P, pixels_per_tile)
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* pkp = &pointwise_kernel[0, 0]
    cdef const floating* bp = &bias[0]
    cdef floating* op = &out[0, 0, 0, 0]
    cdef Py_ssize_t t, n, p0, M
    for t in prange(N * tiles_per_image, nogil=True, num_threads=n_threads,
                    schedule="static"):
        n = t // tiles_per_image
        p0 = (t % tiles_per_image) * pixels_per_tile
        M = min(p0 + pixels_per_tile, P) - p0
        if channels_first:
            _pointwise_tile(xp + n * P * K + p0, P, True, M, K, pkp, F, bp,
                            op + n * P * F + p0, P, True, activation)
        else:
            _pointwise_tile(xp + (n * P + p0) * K, K, False, M, K, pkp, F, bp,
                            op + (n * P + p0) * F, F, False, activation)
