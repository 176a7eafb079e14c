# The backward kernels: gradients of separable, depthwise and pointwise
# (included at the end of _kernels.pxi, so every ISA build has them, and
# they call its geometry, depthwise and GEMM helpers).
#
# Same contract as the forward kernels (sepconv/gradients.py validates):
# C-contiguous arrays of one float dtype, consistent shapes, a non-empty
# batch.  Outputs that are not wanted are passed as placeholder arrays and
# never touched.
#
# Notation (see shared/design/gradients-notes.md): z the depthwise result,
# a = z @ P + b the pre-activation, g the gradient of the loss w.r.t. a
# (dy, or dy where a > 0 for the fused ReLU), dz = g @ P^T.
#
# Work is cut, as in the forward pass, into tiles of whole output rows of
# one image, spread over threads with a static schedule:
#   * weight gradients (dK, dP, db) are sums over every pixel: each thread
#     adds its tiles into a private partial, and the partials are summed in
#     thread order at the end, so that a given n_threads always gives the
#     same bits (a static schedule gives each thread the same tiles);
#   * the input gradient is a gather: the tile of output rows [r0, r1)
#     owns the input rows [r0 * sh - pt, r1 * sh - pt) and computes dz for
#     the output rows that read them, [r0 - halo, r1): no two threads write
#     the same row, and the halo rows' dz is computed twice instead of
#     being held for the neighbouring tile;
#   * z, the pre-activation for the ReLU mask and dz exist one tile at a
#     time, in per-thread scratch; nothing of the size of z is ever held.

cdef enum:
    WANT_X = 1          # bits of the ``want`` argument of the entry points
    WANT_DEPTHWISE = 2
    WANT_POINTWISE = 4
    WANT_BIAS = 8

GRAD_WANTS = {"x": WANT_X, "depthwise_kernel": WANT_DEPTHWISE,
              "pointwise_kernel": WANT_POINTWISE, "bias": WANT_BIAS}


cdef void _blas_gemm(bint ta, bint tb, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                     const floating* a, Py_ssize_t lda, const floating* b, Py_ssize_t ldb,
                     bint accumulate, floating* c, Py_ssize_t ldc) noexcept nogil:
    """c (+)= op(a) @ op(b), column-major; ``ta``/``tb`` transpose a/b."""
    cdef int m_ = <int> m, n_ = <int> n, k_ = <int> k
    cdef int lda_ = <int> lda, ldb_ = <int> ldb, ldc_ = <int> ldc
    cdef floating one = 1
    cdef floating beta = 1 if accumulate else 0
    cdef char no = b'N'
    cdef char tr = b'T'
    if floating is float:
        sgemm(&tr if ta else &no, &tr if tb else &no, &m_, &n_, &k_, &one, <float*> a, &lda_,
              <float*> b, &ldb_, &beta, c, &ldc_)
    else:
        dgemm(&tr if ta else &no, &tr if tb else &no, &m_, &n_, &k_, &one, <double*> a,
              &lda_, <double*> b, &ldb_, &beta, c, &ldc_)


cdef void _gemm_nt(const floating* g, Py_ssize_t ldg, bint g_planar, Py_ssize_t M,
                   Py_ssize_t F, const floating* pk, Py_ssize_t K, floating* c,
                   Py_ssize_t ldc, bint c_planar) noexcept nogil:
    """c = g @ pk^T: g (M x F) and c (M x K) "rows" or "planar", pk (K x F) row-major."""
    if c_planar:
        # c (M x K, col-major) = op(g) (M x F) @ pk^T, pk^T being pk read col-major
        _blas_gemm(not g_planar, False, M, K, F, g, ldg, pk, F, False, c, ldc)
    else:
        # c^T (K x M, col-major) = pk (K x F) @ op(g)^T (F x M)
        _blas_gemm(True, g_planar, K, M, F, pk, F, g, ldg, False, c, ldc)


cdef void _gemm_tn(const floating* a, Py_ssize_t lda, bint a_planar, Py_ssize_t M,
                   Py_ssize_t K, const floating* g, Py_ssize_t ldg, bint g_planar,
                   Py_ssize_t F, floating* dp) noexcept nogil:
    """dp += a^T @ g: a (M x K) and g (M x F) "rows" or "planar", dp (K x F) row-major."""
    # dp^T (F x K, col-major) += op(g)^T (F x M) @ op(a) (M x K)
    _blas_gemm(g_planar, not a_planar, F, K, M, g, ldg, a, lda, True, dp, F)


cdef void _gate(floating* dst, Py_ssize_t ldd, bint d_planar, const floating* src,
                Py_ssize_t lds, bint s_planar, Py_ssize_t M, Py_ssize_t F,
                bint relu) noexcept nogil:
    """dst = src, layout to layout; with ``relu`` only where dst (the pre-activation) > 0.

    ReLU's derivative at 0 is 0, as in TensorFlow and PyTorch (and for NaN).
    """
    cdef Py_ssize_t i, f, di, si
    for f in range(F):
        for i in range(M):
            di = f * ldd + i if d_planar else i * ldd + f
            si = f * lds + i if s_planar else i * lds + f
            if not relu or dst[di] > 0:
                dst[di] = src[si]
            else:
                dst[di] = 0


cdef void _sum_pixels(const floating* g, Py_ssize_t ldg, bint g_planar, Py_ssize_t M,
                      Py_ssize_t F, floating* acc) noexcept nogil:
    """acc[f] += sum over the M pixels of g[:, f]."""
    cdef Py_ssize_t i, f
    cdef floating s
    if g_planar:
        for f in range(F):
            s = 0
            for i in range(M):
                s = s + g[f * ldg + i]
            acc[f] = acc[f] + s
    else:
        for i in range(M):
            for f in range(F):
                acc[f] = acc[f] + g[i * ldg + f]


cdef extern from *:
    """
    #include <string.h>
    /* The pointwise step's three gradients for few channels (K <= SMALL_K_),
       from gradient rows g (M pixels of F, ld ldg) and a planar depthwise
       output z (ld ldz), in one pass over g instead of two BLAS calls whose
       packing of g outweighs their K multiply-adds per element:
         db += the sum of the rows of g,  dp (K x F) += z^T g,
         dz[k * ldz + i] = g_i . pk_k  (planar).
       A NULL dz, dp or db is not computed.  Vectors run along F; each dz is
       a vector sum folded at the end. */
    #define SEPCONV_SMALL_PW_GRAD(NAME, T, VT, VL)                                  \
    static void NAME(const T* g, Py_ssize_t ldg, Py_ssize_t M, Py_ssize_t F,       \
                     const T* z, Py_ssize_t ldz, Py_ssize_t K, const T* pk,        \
                     T* dz, T* dp, T* db) {                                        \
        Py_ssize_t Fv = F - F % (VL);                                              \
        for (Py_ssize_t i = 0; i < M; i++) {                                       \
            const T* gi = g + i * ldg;                                             \
            if (db) {                                                              \
                Py_ssize_t f = 0;                                                  \
                for (; f < Fv; f += (VL))                                          \
                    *(VT*) (db + f) += *(const VT*) (gi + f);                      \
                for (; f < F; f++) db[f] += gi[f];                                 \
            }                                                                      \
            for (Py_ssize_t k = 0; k < K; k++) {                                   \
                const T* pkk = pk + k * F;                                         \
                T* dpk = dp ? dp + k * F : NULL;                                   \
                T zk = dp ? z[k * ldz + i] : 0;                                    \
                VT acc = (VT) {0}, v;                                              \
                T lanes[VL], s = 0;                                                \
                Py_ssize_t f = 0;                                                  \
                for (; f < Fv; f += (VL)) {                                        \
                    v = *(const VT*) (gi + f);                                     \
                    acc += v * *(const VT*) (pkk + f);                             \
                    if (dpk) *(VT*) (dpk + f) += zk * v;                           \
                }                                                                  \
                memcpy(lanes, &acc, sizeof acc);                                   \
                for (Py_ssize_t l = 0; l < (VL); l++) s += lanes[l];               \
                for (; f < F; f++) {                                               \
                    s += gi[f] * pkk[f];                                           \
                    if (dpk) dpk[f] += zk * gi[f];                                 \
                }                                                                  \
                if (dz) dz[k * ldz + i] = s;                                       \
            }                                                                      \
        }                                                                          \
    }
    SEPCONV_SMALL_PW_GRAD(sepconv_small_pw_grad_f32, float, sepconv_vf32, SEPCONV_VL32)
    SEPCONV_SMALL_PW_GRAD(sepconv_small_pw_grad_f64, double, sepconv_vf64, SEPCONV_VL64)
    """
    void _small_pw_grad_f32 "sepconv_small_pw_grad_f32"(
        const float* g, Py_ssize_t ldg, Py_ssize_t M, Py_ssize_t F, const float* z,
        Py_ssize_t ldz, Py_ssize_t K, const float* pk, float* dz, float* dp,
        float* db) noexcept nogil
    void _small_pw_grad_f64 "sepconv_small_pw_grad_f64"(
        const double* g, Py_ssize_t ldg, Py_ssize_t M, Py_ssize_t F, const double* z,
        Py_ssize_t ldz, Py_ssize_t K, const double* pk, double* dz, double* dp,
        double* db) noexcept nogil


cdef inline void _small_pw_grad(const floating* g, Py_ssize_t ldg, Py_ssize_t M, Py_ssize_t F,
                                const floating* z, Py_ssize_t ldz, Py_ssize_t K,
                                const floating* pk, floating* dz, floating* dp,
                                floating* db) noexcept nogil:
    """The pointwise gradients of few channels in one pass (see sepconv_small_pw_grad)."""
    if floating is float:
        _small_pw_grad_f32(g, ldg, M, F, z, ldz, K, pk, dz, dp, db)
    else:
        _small_pw_grad_f64(g, ldg, M, F, z, ldz, K, pk, dz, dp, db)


cdef void _reduce_partials(const floating* parts, Py_ssize_t n_parts, Py_ssize_t stride,
                           Py_ssize_t n, floating* out) noexcept nogil:
    """out[i] = sum of parts[t * stride + i] over t = 0, 1, ... in that order."""
    cdef Py_ssize_t t, i
    for i in range(n):
        out[i] = parts[i]
    for t in range(1, n_parts):
        for i in range(n):
            out[i] = out[i] + parts[t * stride + i]


# --------------------------------------------------------------------------
# Depthwise step backwards, one channel plane at a time.  The input rows a
# tile reads are gathered into a zero-padded plane (_gather_plane, as the
# forward planar path does), so every tap is a fixed offset in it.

cdef void _plane_dots(const floating* plane, Py_ssize_t wp, const Geometry* g,
                      const floating* dzj, Py_ssize_t a0, Py_ssize_t rows,
                      floating* dk_j, Py_ssize_t K, floating* acc) noexcept nogil:
    """dk_j[t * K] += sum over rows a0.. and columns of plane-under-tap-t * dzj.

    ``dzj`` is row a0's dz of one channel; ``acc`` is Wo elements of scratch,
    summed into by element so that the loops vectorise (no scalar chain).
    """
    cdef Py_ssize_t t, a, i, taps = g.kh * g.kw
    cdef const floating* base
    cdef const floating* d
    cdef floating s
    for t in range(taps):
        for i in range(g.Wo):
            acc[i] = 0
        for a in range(rows):
            base = plane + ((a0 + a) * g.sh + (t // g.kw) * g.dh) * wp + (t % g.kw) * g.dw
            d = dzj + a * g.Wo
            if g.sw == 1:
                _vfma1(acc, g.Wo, base, d)
            else:
                for i in range(g.Wo):
                    acc[i] = acc[i] + base[i * g.sw] * d[i]
        s = 0
        for i in range(g.Wo):
            s = s + acc[i]
        dk_j[t * K] = dk_j[t * K] + s


cdef void _plane_axpys(floating* dplane, Py_ssize_t wp, const Geometry* g,
                       const floating* dzj, Py_ssize_t rows, const floating* w,
                       Py_ssize_t K) noexcept nogil:
    """dplane-under-tap-t += w[t * K] * dzj for every tap t: the transpose of _plane_taps.

    The plane is the thread's own, so these are plain vector updates, not
    scattered writes to shared memory.
    """
    cdef Py_ssize_t t, a, i, taps = g.kh * g.kw
    cdef floating* base
    cdef const floating* d
    cdef floating wt
    for t in range(taps):
        wt = w[t * K]
        for a in range(rows):
            base = dplane + (a * g.sh + (t // g.kw) * g.dh) * wp + (t % g.kw) * g.dw
            d = dzj + a * g.Wo
            if g.sw == 1:
                for i in range(g.Wo):
                    base[i] = base[i] + wt * d[i]
            else:
                for i in range(g.Wo):
                    base[i * g.sw] = base[i * g.sw] + wt * d[i]


cdef void _store_plane_rows(const floating* dplane, Py_ssize_t wp, const Geometry* g,
                            Py_ssize_t ih0, Py_ssize_t rows_in, Py_ssize_t own0,
                            Py_ssize_t own1, floating* dxc) noexcept nogil:
    """Write input rows own0..own1-1 of one channel of dx from the plane (row ih0 first).

    Pixels outside the plane (rows or columns no output reads) get 0.
    """
    cdef Py_ssize_t ih, iw, a, b
    cdef floating* row
    for ih in range(own0, own1):
        row = dxc + ih * g.xs_h
        a = ih - ih0
        for iw in range(g.W):
            b = iw + g.pl
            if 0 <= a < rows_in and b < wp:
                row[iw * g.xs_w] = dplane[a * wp + b]
            else:
                row[iw * g.xs_w] = 0


cdef void _depthwise_backward(const floating* x, const Geometry* g, const floating* dk,
                              const floating* dz, Py_ssize_t ldz, Py_ssize_t rs,
                              Py_ssize_t r0, Py_ssize_t r1, Py_ssize_t own0,
                              Py_ssize_t own1, floating* dx, floating* dk_part, int want,
                              floating* scratch) noexcept nogil:
    """The depthwise step's gradients for the tile of output rows [r0, r1) of one image.

    ``dz`` is planar (dz[j * ldz + i]) for the output rows [rs, r1), rs <= r0.
    dk_part += the kernel gradient of rows [r0, r1); with WANT_X, input rows
    own0..own1-1 of dx are written from the dz rows [rs, r1) that read them.
    ``scratch`` holds _depthwise_backward_scratch(g, r1 - rs) elements.
    """
    cdef Py_ssize_t K = g.C * g.dm, wp = _plane_width(g)
    cdef Py_ssize_t rows_in = _input_rows(g, r1 - rs), ih0 = rs * g.sh - g.pt
    cdef floating* plane = scratch
    cdef floating* dplane = scratch + rows_in * wp
    cdef floating* acc = dplane + rows_in * wp
    cdef Py_ssize_t c, m, j, i
    for c in range(g.C):
        if want & WANT_DEPTHWISE:
            _gather_plane(x + c * g.xs_c, g, ih0, rows_in, wp, plane)
        if want & WANT_X:
            for i in range(rows_in * wp):
                dplane[i] = 0
        for m in range(g.dm):
            j = c * g.dm + m
            if want & WANT_DEPTHWISE:
                _plane_dots(plane, wp, g, dz + j * ldz + (r0 - rs) * g.Wo, r0 - rs, r1 - r0,
                            dk_part + j, K, acc)
            if want & WANT_X:
                _plane_axpys(dplane, wp, g, dz + j * ldz, r1 - rs, dk + j, K)
        if want & WANT_X:
            _store_plane_rows(dplane, wp, g, ih0, rows_in, own0, own1, dx + c * g.xs_c)


# The same for the "rows" layout (channels_last, depth multiplier 1, more
# than SMALL_K_ channels; see _planar): dz is (pixel, channel), channels
# contiguous, and both gradients are vector updates along the channels, the
# weights read as they lie.

cdef extern from *:
    """
    /* One input row's share of the depthwise kernel gradient, rows layout:
       dk[v * C + c] += sum over the output columns ow that read column
       ow * sw - pl + v * dw inside the row of x[that column, c] * d[ow, c],
       for the kw taps v of one kernel row (x: the input row, d: the dz row,
       C channels contiguous).  Each tap's columns are found first, so the
       inner loop has no test; four channel vectors at a time keep four
       sums in registers (four independent chains of multiply-adds). */
    #define SEPCONV_ROW_KERNEL_GRAD(NAME, T, VT, VL)                                \
    static void NAME(const T* x, Py_ssize_t W, Py_ssize_t C, const T* d,           \
                     Py_ssize_t Wo, Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw,   \
                     Py_ssize_t pl, T* dk) {                                       \
        for (Py_ssize_t v = 0; v < kw; v++) {                                      \
            Py_ssize_t a = pl - v * dw, b = W - 1 + pl - v * dw;                   \
            Py_ssize_t lo = a <= 0 ? 0 : (a + sw - 1) / sw;                        \
            Py_ssize_t hi = b < 0 ? 0 : (b / sw + 1 < Wo ? b / sw + 1 : Wo);       \
            if (lo >= hi) continue;                                                \
            Py_ssize_t n = hi - lo, sx = sw * C, c = 0;                            \
            const T* xs = x + (lo * sw - a) * C;                                   \
            const T* ds = d + lo * C;                                              \
            T* dkv = dk + v * C;                                                   \
            for (; c + 4 * (VL) <= C; c += 4 * (VL)) {                             \
                VT s0 = (VT) {0}, s1 = (VT) {0}, s2 = (VT) {0}, s3 = (VT) {0};     \
                for (Py_ssize_t i = 0; i < n; i++) {                               \
                    const T* xi = xs + i * sx + c;                                 \
                    const T* di = ds + i * C + c;                                  \
                    s0 += *(const VT*) xi * *(const VT*) di;                       \
                    s1 += *(const VT*) (xi + (VL)) * *(const VT*) (di + (VL));     \
                    s2 += *(const VT*) (xi + 2 * (VL)) * *(const VT*) (di + 2 * (VL)); \
                    s3 += *(const VT*) (xi + 3 * (VL)) * *(const VT*) (di + 3 * (VL)); \
                }                                                                  \
                *(VT*) (dkv + c) += s0;                                            \
                *(VT*) (dkv + c + (VL)) += s1;                                     \
                *(VT*) (dkv + c + 2 * (VL)) += s2;                                 \
                *(VT*) (dkv + c + 3 * (VL)) += s3;                                 \
            }                                                                      \
            for (; c + (VL) <= C; c += (VL)) {                                     \
                VT s0 = (VT) {0};                                                  \
                for (Py_ssize_t i = 0; i < n; i++)                                 \
                    s0 += *(const VT*) (xs + i * sx + c) * *(const VT*) (ds + i * C + c); \
                *(VT*) (dkv + c) += s0;                                            \
            }                                                                      \
            for (; c < C; c++) {                                                   \
                T s0 = 0;                                                          \
                for (Py_ssize_t i = 0; i < n; i++) s0 += xs[i * sx + c] * ds[i * C + c]; \
                dkv[c] += s0;                                                      \
            }                                                                      \
        }                                                                          \
    }
    SEPCONV_ROW_KERNEL_GRAD(sepconv_row_kernel_grad_f32, float, sepconv_vf32, SEPCONV_VL32)
    SEPCONV_ROW_KERNEL_GRAD(sepconv_row_kernel_grad_f64, double, sepconv_vf64, SEPCONV_VL64)
    """
    void _row_kernel_grad_f32 "sepconv_row_kernel_grad_f32"(
        const float* x, Py_ssize_t W, Py_ssize_t C, const float* d, Py_ssize_t Wo,
        Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pl, float* dk) noexcept nogil
    void _row_kernel_grad_f64 "sepconv_row_kernel_grad_f64"(
        const double* x, Py_ssize_t W, Py_ssize_t C, const double* d, Py_ssize_t Wo,
        Py_ssize_t kw, Py_ssize_t sw, Py_ssize_t dw, Py_ssize_t pl, double* dk) noexcept nogil


cdef void _rows_kernel_grad(const floating* x, const Geometry* g, const floating* dz,
                            Py_ssize_t r0, Py_ssize_t r1, floating* dk_part) noexcept nogil:
    """dk_part[t * C + c] += x under tap t times dz, over the output rows [r0, r1).

    ``dz`` holds row r0 first, one pixel of C channels after the other.
    """
    cdef Py_ssize_t r, u, ih, C = g.C
    cdef const floating* d
    for r in range(r0, r1):
        d = dz + (r - r0) * g.Wo * C
        for u in range(g.kh):
            ih = r * g.sh - g.pt + u * g.dh
            if ih < 0 or ih >= g.H:
                continue
            if floating is float:
                _row_kernel_grad_f32(x + ih * g.xs_h, g.W, C, d, g.Wo, g.kw, g.sw, g.dw, g.pl,
                                     dk_part + u * g.kw * C)
            else:
                _row_kernel_grad_f64(x + ih * g.xs_h, g.W, C, d, g.Wo, g.kw, g.sw, g.dw, g.pl,
                                     dk_part + u * g.kw * C)


cdef void _rows_input_grad(const Geometry* g, const floating* dk, const floating* dz,
                           Py_ssize_t rs, Py_ssize_t r1, Py_ssize_t own0, Py_ssize_t own1,
                           floating* dx) noexcept nogil:
    """dx of input rows own0..own1-1 gathered from dz of the output rows [rs, r1).

    Each input pixel sums, tap by tap, the output pixels that read it: those
    whose row and column offsets are divisible by the strides (so stride
    phases cost no inserted zeros).  ``dz`` holds row rs first.
    """
    cdef Py_ssize_t ih, iw, u, v, nh, nw, oh, ow, i, C = g.C
    cdef floating* px
    for ih in range(own0, own1):
        for iw in range(g.W):
            px = dx + ih * g.xs_h + iw * C
            for i in range(C):
                px[i] = 0
            for u in range(g.kh):
                nh = ih + g.pt - u * g.dh
                if nh < 0 or nh % g.sh != 0 or nh // g.sh < rs or nh // g.sh >= r1:
                    continue
                oh = nh // g.sh
                for v in range(g.kw):
                    nw = iw + g.pl - v * g.dw
                    if nw < 0 or nw % g.sw != 0 or nw // g.sw >= g.Wo:
                        continue
                    ow = nw // g.sw
                    _vfma1(px, C, dk + (u * g.kw + v) * C, dz + ((oh - rs) * g.Wo + ow) * C)


cdef Geometry _input_grad_geometry(const Geometry* g) noexcept nogil:
    """dx at unit strides as a forward depthwise step: dz under the flipped kernel.

    dx[ih] sums dk[u] * dz[ih + pt - u * dh] over the taps u: with the taps
    reversed that is dz read from row ih - ((kh - 1) * dh - pt) on, the
    forward's correlation with that padding.  The register kernels then
    compute it as they compute z (channels_last, depth multiplier 1).
    """
    cdef Geometry t = g[0]
    t.H, t.W, t.Ho, t.Wo = g.Ho, g.Wo, g.H, g.W
    t.pt = (g.kh - 1) * g.dh - g.pt
    t.pl = (g.kw - 1) * g.dw - g.pl
    t.xs_h = g.Wo * g.C
    return t


cdef inline Py_ssize_t _depthwise_backward_scratch(const Geometry* g,
                                                   Py_ssize_t rows) noexcept nogil:
    """Scratch elements of _depthwise_backward (and, reusing them, _depthwise_planar)."""
    return _scratch_product(2 * _input_rows(g, rows), _plane_width(g)) + g.Wo


cdef inline Py_ssize_t _halo(const Geometry* g) noexcept nogil:
    """Output rows above a tile that read input rows the tile owns."""
    return (g.kh - 1) * g.dh // g.sh


cdef inline void _owned_rows(const Geometry* g, Py_ssize_t r0, Py_ssize_t r1,
                             Py_ssize_t* own0, Py_ssize_t* own1) noexcept nogil:
    """Input rows whose dx the tile of output rows [r0, r1) writes: a partition of 0..H-1."""
    own0[0] = 0 if r0 == 0 else max(0, min(g.H, r0 * g.sh - g.pt))
    own1[0] = g.H if r1 == g.Ho else max(0, min(g.H, r1 * g.sh - g.pt))


cdef inline Py_ssize_t _at(Py_ssize_t i, Py_ssize_t ld, bint planar) noexcept nogil:
    """Offset of pixel i in a tile: planar (channel planes of ld) or rows (pixels of ld)."""
    return i if planar else i * ld


cdef void _keep_halo(floating* dz, Py_ssize_t ldz, bint planar, const Tile* tl,
                     const Geometry* g, Py_ssize_t K, bint reuse, floating* kept) noexcept nogil:
    """Swap the tile's halo dz with the thread's kept rows: ``kept`` in, the tile's last out.

    The halo of the tile below, [r1 - halo, r1) clipped at row 0, is this
    tile's last rows (its dz covers the same clipped halo above it, so
    there are enough), kept when the tile below follows on the same thread
    rather than computed again.  With ``reuse`` this tile follows the one
    above (its dz computed from pixel ``off`` on only), and its rows
    [rs, r0) are copied in first.  ``kept`` holds K planes of halo * Wo pixels (planar) or pixels of K.
    """
    cdef Py_ssize_t j, room = _halo(g) * g.Wo
    cdef Py_ssize_t n = min(_halo(g), tl.r1 - tl.rs) * g.Wo
    if reuse:
        if planar:
            for j in range(K):
                _copy(dz + j * ldz, kept + j * room, tl.off * sizeof(floating))
        else:
            _copy(dz, kept, tl.off * K * sizeof(floating))
    if tl.r1 == g.Ho:
        return
    if planar:
        for j in range(K):
            _copy(kept + j * room, dz + j * ldz + tl.Ms - n, n * sizeof(floating))
    else:
        _copy(kept, dz + (tl.Ms - n) * K, n * K * sizeof(floating))


cdef struct Tile:
    Py_ssize_t n, r0, r1, rs      # image; output rows [r0, r1); dz from row rs
    Py_ssize_t M, Ms, off         # pixels of [r0, r1), of [rs, r1); row r0 in [rs, r1)
    Py_ssize_t own0, own1         # input rows whose dx the tile writes


cdef inline Tile _tile(const Geometry* g, Py_ssize_t t, Py_ssize_t tiles_per_image,
                       Py_ssize_t rows_per_tile, bint with_halo) noexcept nogil:
    cdef Tile tl
    tl.n = t // tiles_per_image
    tl.r0 = (t % tiles_per_image) * rows_per_tile
    tl.r1 = min(tl.r0 + rows_per_tile, g.Ho)
    tl.rs = max(0, tl.r0 - _halo(g)) if with_halo else tl.r0
    tl.M = (tl.r1 - tl.r0) * g.Wo
    tl.Ms = (tl.r1 - tl.rs) * g.Wo
    tl.off = (tl.r0 - tl.rs) * g.Wo
    _owned_rows(g, tl.r0, tl.r1, &tl.own0, &tl.own1)
    return tl


cdef bint _flips(const Geometry* g, bint planar, int want) noexcept nogil:
    """Whether dx goes through the register kernels (see _input_grad_geometry).

    The rows layout at unit strides, unless the padding passes the window.
    """
    cdef Geometry gt = _input_grad_geometry(g)
    return (not planar and g.sh == 1 and g.sw == 1 and gt.pt >= 0 and gt.pl >= 0
            and (want & WANT_X) != 0)


cdef tuple _flipped_weights(depthwise_kernel, bint flip, Py_ssize_t packed_size):
    """The kernel with its taps reversed and room to pack it (placeholders without ``flip``)."""
    kernel = np.asarray(depthwise_kernel)
    if not flip:
        return kernel[:1, :1].copy(), np.empty(1, dtype=kernel.dtype)
    return np.ascontiguousarray(kernel[::-1, ::-1]), np.empty(packed_size, dtype=kernel.dtype)


cdef void _rows_dx(const Geometry* g, bint flip, const floating* dk, const floating* fk,
                   const floating* fpacked, const floating* zero, const floating* dz,
                   const Tile* tl, floating* dx) noexcept nogil:
    """Input rows own0..own1-1 of one image's dx from dz rows [rs, r1), rows layout.

    With ``flip`` the register kernels run on dz as rows of an image of Ho
    rows under the flipped kernel ``fk`` (packed: ``fpacked``); else the gather.
    """
    cdef Geometry gt
    if flip:
        gt = _input_grad_geometry(g)
        _depthwise_rows(dz - tl.rs * g.Wo * g.C, &gt, fk, fpacked, zero, zero, tl.own0, tl.own1,
                        dx + tl.own0 * g.W * g.C, g.C, NULL)
    else:
        _rows_input_grad(g, dk, dz, tl.rs, tl.r1, tl.own0, tl.own1, dx)


def _partials(Py_ssize_t n_threads, Py_ssize_t size, dtype):
    """One zeroed row of ``size`` partial sums per thread (at least one element)."""
    return np.zeros((n_threads, max(size, 1)), dtype=dtype)


# --------------------------------------------------------------------------
# Entry points

def separable_grad(const floating[:, :, :, ::1] x,
                   const floating[:, :, :, ::1] depthwise_kernel,
                   const floating[:, ::1] pointwise_kernel, const floating[::1] bias,
                   const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx,
                   floating[::1] d_depthwise, floating[::1] d_pointwise, floating[::1] d_bias,
                   Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                   Py_ssize_t pt, Py_ssize_t pl, bint channels_first,
                   Py_ssize_t rows_per_tile, int activation, int n_threads, int want,
                   Py_ssize_t gemm_pixels, int[::1] cancel, bint poll,
                   intptr_t blas_set_local, intptr_t blas_users):
    """Gradients of separable: those ``want`` (WANT_* bits) asks for, written in place.

    d_depthwise, d_pointwise and d_bias are the flat gradients (kh*kw*C*dm,
    K*F, F); with ACT_RELU, ``dy`` is the gradient of the activation's
    output and the pre-activation is recomputed per tile.  ``gemm_pixels``
    pixels go to one BLAS call of that recomputation (0: a whole tile).
    """
    cdef Geometry g = _geometry(x.shape, depthwise_kernel.shape, dy.shape,
                                channels_first, sh, sw, dh, dw, pt, pl)
    cdef Py_ssize_t K = g.C * g.dm, F = pointwise_kernel.shape[1], N = x.shape[0]
    cdef Py_ssize_t tiles_per_image = _ceil_div(g.Ho, rows_per_tile)
    cdef Py_ssize_t image_in = g.H * g.W * g.C, image_out = g.Ho * g.Wo * F
    cdef bint relu = activation == ACT_RELU
    cdef bint need_z = relu or (want & WANT_POINTWISE)
    cdef bint need_dz = (want & (WANT_X | WANT_DEPTHWISE)) != 0
    cdef bint with_halo = (want & WANT_X) != 0
    cdef Py_ssize_t rows_max = min(g.Ho, rows_per_tile + (_halo(&g) if with_halo else 0))
    cdef Py_ssize_t ms_max = rows_max * g.Wo
    # z and dz in the forward's depthwise layout: "planar" or "rows"
    cdef bint planar = _planar(&g, channels_first)
    cdef Py_ssize_t ldz
    # per thread: z, the gated gradient (dy's layout), dz, then the planes
    # (whose room _depthwise_planar borrows for its own) or the rows path's
    # staged input
    cdef Py_ssize_t z_size = K * ms_max if need_z else 0
    cdef Py_ssize_t a_size = F * ms_max if relu else 0
    cdef Py_ssize_t dz_size = K * ms_max if need_dz else 0
    # the last halo rows of dz, kept for the thread's next tile (see _keep_halo)
    cdef Py_ssize_t halo_size = K * _halo(&g) * g.Wo if with_halo else 0
    cdef Py_ssize_t stage = 0 if planar else _stage_scratch(&g, rows_max, sizeof(floating))
    cdef Py_ssize_t scratch = max(_depthwise_backward_scratch(&g, rows_max),
                                  _planar_scratch(&g, rows_max), stage)
    cdef Py_ssize_t n_dk = g.kh * g.kw * K, n_dp = K * F
    cdef Py_ssize_t part_size = n_dk + n_dp + F
    # few channels, gradient rows: the pointwise gradients without BLAS
    cdef bint small = planar and not channels_first and K <= SMALL_K_
    cdef bint flip = _flips(&g, planar, want)
    dtype = np.asarray(dy).dtype
    cdef floating[:, ::1] work = _workspace(
        n_threads, z_size + a_size + dz_size + halo_size + scratch, dtype)
    cdef floating[:, ::1] parts = _partials(n_threads, part_size, dtype)
    # the tile each thread computed last (-2: none)
    cdef Py_ssize_t[::1] last = np.full(n_threads, -2, dtype=np.intp)
    # zeros: the depthwise step's bias, and the rows path's padding (a chunk)
    cdef floating[::1] zero = np.zeros(max(K, CHUNK), dtype=dtype)
    cdef floating[::1] packed = np.empty(
        1 if planar else _ceil_div(K, CHUNK) * g.kh * g.kw * CHUNK, dtype=dtype)
    cdef floating* pp = &packed[0]
    # the kernel with its taps reversed, as it is and packed, for dx
    flipped_arrays = _flipped_weights(depthwise_kernel, flip, packed.shape[0])
    cdef floating[:, :, :, ::1] flipped = flipped_arrays[0]
    cdef floating[::1] packed_flipped = flipped_arrays[1]
    cdef const floating* fkp = &flipped[0, 0, 0, 0]
    cdef floating* fpp = &packed_flipped[0]
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* dkp = &depthwise_kernel[0, 0, 0, 0]
    cdef const floating* pkp = &pointwise_kernel[0, 0]
    cdef const floating* bp = &bias[0]
    cdef const floating* dyp = &dy[0, 0, 0, 0]
    cdef const floating* zp = &zero[0]
    cdef floating* dxp = &dx[0, 0, 0, 0]
    cdef Py_ssize_t t, ldg, lda, zs, z0, h
    cdef Tile tl
    cdef bint reuse
    cdef floating* buf
    cdef floating* part
    cdef floating* at
    cdef floating* dz
    cdef floating* kept
    cdef const floating* gp
    cdef const floating* g0
    cdef Control ctl = _control(cancel, poll, blas_set_local, blas_users)
    with nogil:
        if not planar:
            _pack_weights(dkp, g.kh * g.kw, K, pp)
        if flip:
            _pack_weights(fkp, g.kh * g.kw, K, fpp)
        # a static schedule: each thread sums the same tiles every run,
        # so the reduced gradients are the same bit for bit
        with parallel(num_threads=n_threads):
            _blas_enter(&ctl)
            for t in prange(N * tiles_per_image, schedule="static"):
                if _stopped(&ctl):
                    continue
                tl = _tile(&g, t, tiles_per_image, rows_per_tile, with_halo)
                buf = &work[threadid(), 0]
                part = &parts[threadid(), 0]
                at = buf + z_size
                dz = at + a_size
                kept = dz + dz_size
                # the halo rows' dz [rs, r0) is the thread's previous tile's
                # last rows when that tile was the one above: only rows
                # [zs, r1) are computed, from pixel h of the tile on
                reuse = tl.rs < tl.r0 and last[threadid()] == t - 1
                last[threadid()] = t
                zs = tl.r0 if reuse else tl.rs
                h = (zs - tl.rs) * g.Wo
                # z: rows [r0, r1) for dP, and [zs, r0) too for the ReLU mask
                z0 = zs if relu else tl.r0
                # g: the pre-activation's gradient for output rows [rs, r1), dy's layout
                ldg = g.Ho * g.Wo if channels_first else F
                gp = dyp + tl.n * image_out + (tl.rs * g.Wo if channels_first
                                               else tl.rs * g.Wo * F)
                # z and dz: (channel, pixel) with ld Ms, or (pixel, channel) with ld K
                ldz = tl.Ms if planar else K
                if need_z and planar:
                    _depthwise_planar(xp + tl.n * image_in, &g, dkp, zp, z0, tl.r1,
                                      buf + (z0 - tl.rs) * g.Wo, tl.Ms, kept + halo_size)
                elif need_z:
                    _depthwise_rows(xp + tl.n * image_in, &g, dkp, pp, zp, zp, z0, tl.r1,
                                    buf + (z0 - tl.rs) * g.Wo * K, K,
                                    kept + halo_size if stage else NULL)
                if relu:
                    lda = tl.Ms if channels_first else F
                    _fill_bias(at + _at(h, lda, channels_first), lda, channels_first,
                               tl.Ms - h, F, bp)
                    _gemm_tile(buf + _at(h, ldz, planar), ldz, planar, tl.Ms - h, K, pkp, F,
                               at + _at(h, lda, channels_first), lda, channels_first,
                               gemm_pixels)
                    _gate(at + _at(h, lda, channels_first), lda, channels_first,
                          gp + _at(h, ldg, channels_first), ldg, channels_first, tl.Ms - h, F,
                          True)
                    gp = at
                    ldg = lda
                g0 = gp + _at(tl.off, ldg, channels_first)
                if small:
                    # dz of the rows [zs, r0) alone, then all three of [r0, r1)
                    _small_pw_grad(gp + h * ldg, ldg, tl.off - h, F, buf + h, ldz, K, pkp,
                                   dz + h if need_dz else NULL, NULL, NULL)
                    _small_pw_grad(g0, ldg, tl.M, F, buf + tl.off, ldz, K, pkp,
                                   dz + tl.off if need_dz else NULL,
                                   part + n_dk if want & WANT_POINTWISE else NULL,
                                   part + n_dk + n_dp if want & WANT_BIAS else NULL)
                else:
                    if want & WANT_BIAS:
                        _sum_pixels(g0, ldg, channels_first, tl.M, F, part + n_dk + n_dp)
                    if want & WANT_POINTWISE:
                        _gemm_tn(buf + _at(tl.off, ldz, planar), ldz, planar, tl.M, K, g0,
                                 ldg, channels_first, F, part + n_dk)
                    if need_dz:
                        _gemm_nt(gp + _at(h, ldg, channels_first), ldg, channels_first,
                                 tl.Ms - h, F, pkp, K, dz + _at(h, ldz, planar), ldz, planar)
                if with_halo:
                    _keep_halo(dz, ldz, planar, &tl, &g, K, reuse, kept)
                if need_dz and planar:
                    _depthwise_backward(xp + tl.n * image_in, &g, dkp, dz, tl.Ms, tl.rs, tl.r0,
                                        tl.r1, tl.own0, tl.own1, dxp + tl.n * image_in, part,
                                        want, kept + halo_size)
                elif need_dz:
                    if want & WANT_DEPTHWISE:
                        _rows_kernel_grad(xp + tl.n * image_in, &g, dz + tl.off * K, tl.r0,
                                          tl.r1, part)
                    if want & WANT_X:
                        _rows_dx(&g, flip, dkp, fkp, fpp, zp, dz, &tl, dxp + tl.n * image_in)
            _blas_exit(&ctl)
        if want & WANT_DEPTHWISE:
            _reduce_partials(&parts[0, 0], n_threads, part_size, n_dk, &d_depthwise[0])
        if want & WANT_POINTWISE:
            _reduce_partials(&parts[0, n_dk], n_threads, part_size, n_dp, &d_pointwise[0])
        if want & WANT_BIAS:
            _reduce_partials(&parts[0, n_dk + n_dp], n_threads, part_size, F, &d_bias[0])
    _finish(&ctl)


def depthwise_grad(const floating[:, :, :, ::1] x,
                   const floating[:, :, :, ::1] depthwise_kernel, const floating[::1] bias,
                   const floating[:, :, :, ::1] dy, floating[:, :, :, ::1] dx,
                   floating[::1] d_depthwise, floating[::1] d_bias,
                   Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t dh, Py_ssize_t dw,
                   Py_ssize_t pt, Py_ssize_t pl, bint channels_first,
                   Py_ssize_t rows_per_tile, int activation, int n_threads, int want,
                   int[::1] cancel, bint poll, intptr_t blas_set_local, intptr_t blas_users):
    """Gradients of depthwise: those ``want`` (WANT_X, WANT_DEPTHWISE, WANT_BIAS) asks for.

    With ACT_RELU the pre-activation is recomputed per tile for the mask.
    """
    cdef Geometry g = _geometry(x.shape, depthwise_kernel.shape, dy.shape,
                                channels_first, sh, sw, dh, dw, pt, pl)
    cdef Py_ssize_t K = g.C * g.dm, N = x.shape[0]
    cdef Py_ssize_t tiles_per_image = _ceil_div(g.Ho, rows_per_tile)
    cdef Py_ssize_t image_in = g.H * g.W * g.C, image_out = g.Ho * g.Wo * K
    cdef bint relu = activation == ACT_RELU
    cdef bint with_halo = (want & WANT_X) != 0
    cdef Py_ssize_t rows_max = min(g.Ho, rows_per_tile + (_halo(&g) if with_halo else 0))
    # dz and x in the forward's layout: "rows" (then dy is dz, unless ReLU
    # masks it) or "planar"
    cdef bint planar = _planar(&g, channels_first)
    cdef bint flip = _flips(&g, planar, want)
    # per thread: dz (planar) unless dy, channels_first and no ReLU, is it already
    cdef bint copy_dz = relu or (planar and not channels_first)
    cdef Py_ssize_t dz_size = K * rows_max * g.Wo if copy_dz else 0
    cdef Py_ssize_t scratch = max(_depthwise_backward_scratch(&g, rows_max),
                                  _planar_scratch(&g, rows_max))
    cdef Py_ssize_t n_dk = g.kh * g.kw * K, part_size = n_dk + K
    dtype = np.asarray(dy).dtype
    cdef floating[:, ::1] work = _workspace(n_threads, dz_size + scratch, dtype)
    cdef floating[:, ::1] parts = _partials(n_threads, part_size, dtype)
    # zeros for the register kernels' padding; the kernel packed for them,
    # and reversed for dx
    cdef floating[::1] zero = np.zeros(max(K, CHUNK), dtype=dtype)
    cdef floating[::1] packed = np.empty(
        1 if planar else _ceil_div(K, CHUNK) * g.kh * g.kw * CHUNK, dtype=dtype)
    flipped_arrays = _flipped_weights(depthwise_kernel, flip, packed.shape[0])
    cdef floating[:, :, :, ::1] flipped = flipped_arrays[0]
    cdef floating[::1] packed_flipped = flipped_arrays[1]
    cdef const floating* fkp = &flipped[0, 0, 0, 0]
    cdef floating* fpp = &packed_flipped[0]
    cdef floating* pp = &packed[0]
    cdef const floating* zp = &zero[0]
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* dkp = &depthwise_kernel[0, 0, 0, 0]
    cdef const floating* bp = &bias[0]
    cdef const floating* dyp = &dy[0, 0, 0, 0]
    cdef floating* dxp = &dx[0, 0, 0, 0]
    cdef Py_ssize_t t, ldy, ldz
    cdef Tile tl
    cdef floating* buf
    cdef floating* part
    cdef const floating* src
    cdef const floating* dz
    cdef Control ctl = _control(cancel, poll, blas_set_local, blas_users)
    with nogil:
        if not planar:
            _pack_weights(dkp, g.kh * g.kw, K, pp)
        if flip:
            _pack_weights(fkp, g.kh * g.kw, K, fpp)
        # a static schedule: each thread sums the same tiles every run,
        # so the reduced gradients are the same bit for bit
        with parallel(num_threads=n_threads):
            _blas_enter(&ctl)
            for t in prange(N * tiles_per_image, schedule="static"):
                if _stopped(&ctl):
                    continue
                tl = _tile(&g, t, tiles_per_image, rows_per_tile, with_halo)
                buf = &work[threadid(), 0]
                part = &parts[threadid(), 0]
                ldy = g.Ho * g.Wo if channels_first else K
                src = dyp + tl.n * image_out + (tl.rs * g.Wo if channels_first
                                                else tl.rs * g.Wo * K)
                if not planar:
                    # rows: dy is dz, or the ReLU mask's copy of it
                    dz = src
                    if relu:
                        _depthwise_rows(xp + tl.n * image_in, &g, dkp, pp, bp, zp, tl.rs, tl.r1,
                                        buf, K, NULL)
                        _gate(buf, K, False, src, K, False, tl.Ms, K, True)
                        dz = buf
                    if want & WANT_BIAS:
                        _sum_pixels(dz + tl.off * K, K, False, tl.M, K, part + n_dk)
                    if want & WANT_DEPTHWISE:
                        _rows_kernel_grad(xp + tl.n * image_in, &g, dz + tl.off * K, tl.r0,
                                          tl.r1, part)
                    if want & WANT_X:
                        _rows_dx(&g, flip, dkp, fkp, fpp, zp, dz, &tl, dxp + tl.n * image_in)
                    continue
                if copy_dz:
                    if relu:
                        _depthwise_planar(xp + tl.n * image_in, &g, dkp, bp, tl.rs, tl.r1, buf,
                                          tl.Ms, buf + dz_size)
                    _gate(buf, tl.Ms, True, src, ldy, channels_first, tl.Ms, K, relu)
                    dz = buf
                    ldz = tl.Ms
                else:
                    dz = src
                    ldz = ldy
                if want & WANT_BIAS:
                    _sum_pixels(dz + tl.off, ldz, True, tl.M, K, part + n_dk)
                _depthwise_backward(xp + tl.n * image_in, &g, dkp, dz, ldz, tl.rs, tl.r0, tl.r1,
                                    tl.own0, tl.own1, dxp + tl.n * image_in, part, want,
                                    buf + dz_size)
            _blas_exit(&ctl)
        if want & WANT_DEPTHWISE:
            _reduce_partials(&parts[0, 0], n_threads, part_size, n_dk, &d_depthwise[0])
        if want & WANT_BIAS:
            _reduce_partials(&parts[0, n_dk], n_threads, part_size, K, &d_bias[0])
    _finish(&ctl)


def pointwise_grad(const floating[:, :, :, ::1] x, const floating[:, ::1] pointwise_kernel,
                   const floating[::1] bias, const floating[:, :, :, ::1] dy,
                   floating[:, :, :, ::1] dx, floating[::1] d_pointwise, floating[::1] d_bias,
                   bint channels_first, Py_ssize_t pixels_per_tile, int activation,
                   int n_threads, int want, Py_ssize_t gemm_pixels, int[::1] cancel,
                   bint poll, intptr_t blas_set_local, intptr_t blas_users):
    """Gradients of pointwise: those ``want`` (WANT_X, WANT_POINTWISE, WANT_BIAS) asks for.

    dx = g @ P^T, dP = x^T @ g, db = the sum of g; with ACT_RELU the
    pre-activation is recomputed per tile for the mask.
    """
    cdef Py_ssize_t N = x.shape[0]
    cdef Py_ssize_t K = pointwise_kernel.shape[0], F = pointwise_kernel.shape[1]
    cdef Py_ssize_t P = x.shape[2] * x.shape[3] if channels_first else x.shape[1] * x.shape[2]
    cdef Py_ssize_t tiles_per_image = _ceil_div(P, pixels_per_tile)
    cdef bint relu = activation == ACT_RELU
    cdef Py_ssize_t n_dp = K * F, part_size = n_dp + F
    dtype = np.asarray(dy).dtype
    cdef floating[:, ::1] work = _workspace(n_threads, F * pixels_per_tile if relu else 0,
                                            dtype)
    cdef floating[:, ::1] parts = _partials(n_threads, part_size, dtype)
    cdef const floating* xp = &x[0, 0, 0, 0]
    cdef const floating* pkp = &pointwise_kernel[0, 0]
    cdef const floating* bp = &bias[0]
    cdef const floating* dyp = &dy[0, 0, 0, 0]
    cdef floating* dxp = &dx[0, 0, 0, 0]
    cdef Py_ssize_t t, n, p0, M, ldx, ldg, xo, go
    cdef floating* part
    cdef floating* at
    cdef const floating* gp
    cdef Control ctl = _control(cancel, poll, blas_set_local, blas_users)
    with nogil:
        # a static schedule: each thread sums the same tiles every run,
        # so the reduced gradients are the same bit for bit
        with parallel(num_threads=n_threads):
            _blas_enter(&ctl)
            for t in prange(N * tiles_per_image, schedule="static"):
                if _stopped(&ctl):
                    continue
                n = t // tiles_per_image
                p0 = (t % tiles_per_image) * pixels_per_tile
                M = min(p0 + pixels_per_tile, P) - p0
                part = &parts[threadid(), 0]
                # tiles: planar (ld P) for channels_first, rows (ld K or F) otherwise
                ldx = P if channels_first else K
                ldg = P if channels_first else F
                xo = n * P * K + (p0 if channels_first else p0 * K)
                go = n * P * F + (p0 if channels_first else p0 * F)
                gp = dyp + go
                if relu:
                    at = &work[threadid(), 0]
                    _fill_bias(at, M if channels_first else F, channels_first, M, F, bp)
                    _gemm_tile(xp + xo, ldx, channels_first, M, K, pkp, F, at,
                               M if channels_first else F, channels_first, gemm_pixels)
                    _gate(at, M if channels_first else F, channels_first, gp, ldg, channels_first,
                          M, F, True)
                    gp = at
                    ldg = M if channels_first else F
                if want & WANT_BIAS:
                    _sum_pixels(gp, ldg, channels_first, M, F, part + n_dp)
                if want & WANT_POINTWISE:
                    _gemm_tn(xp + xo, ldx, channels_first, M, K, gp, ldg, channels_first, F, part)
                if want & WANT_X:
                    _gemm_nt(gp, ldg, channels_first, M, F, pkp, K, dxp + xo, ldx, channels_first)
            _blas_exit(&ctl)
        if want & WANT_POINTWISE:
            _reduce_partials(&parts[0, 0], n_threads, part_size, n_dp, &d_pointwise[0])
        if want & WANT_BIAS:
            _reduce_partials(&parts[0, n_dp], n_threads, part_size, F, &d_bias[0])
    _finish(&ctl)
