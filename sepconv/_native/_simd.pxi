# SIMD vector types for the register kernels (_kernels_blocks.pxi), through
# the GCC/Clang vector extension: arithmetic on them compiles to whole-register
# instructions, so the kernels choose what lives in a register instead of
# leaving it to the auto-vectoriser.  The width follows the instruction set
# the module is compiled for (AVX-512: 64 bytes, AVX: 32, else 16 as SSE2 and
# NEON have); a compiler without the extension gets one-element "vectors".
# Loads and stores need no alignment.

cdef extern from *:
    """
    #if (defined(__GNUC__) || defined(__clang__)) && !defined(SEPCONV_SCALAR_VECTORS)
    #  define SEPCONV_VECTOR_EXT 1
    #  if defined(__AVX512F__)
    #    define SEPCONV_VBYTES 64
    #  elif defined(__AVX__)
    #    define SEPCONV_VBYTES 32
    #  else
    #    define SEPCONV_VBYTES 16
    #  endif
    typedef float sepconv_vf32
        __attribute__((vector_size(SEPCONV_VBYTES), aligned(4), may_alias));
    typedef double sepconv_vf64
        __attribute__((vector_size(SEPCONV_VBYTES), aligned(8), may_alias));
    #  define SEPCONV_VL32 (SEPCONV_VBYTES / 4)
    #  define SEPCONV_VL64 (SEPCONV_VBYTES / 8)
    #  if defined(__AVX512F__) || defined(__aarch64__)
    #    define SEPCONV_VREGS 32
    #  else
    #    define SEPCONV_VREGS 16
    #  endif
    #else
    /* no vector extension (MSVC; or asked for with -DSEPCONV_SCALAR_VECTORS,
       to check this fallback with GCC): one-element "vectors" */
    typedef float sepconv_vf32;
    typedef double sepconv_vf64;
    #  define SEPCONV_VL32 1
    #  define SEPCONV_VL64 1
    #  define SEPCONV_VREGS 16
    #endif
    /* SEPCONV_KEEP(v): v stays in a register here.  Without it GCC folds
       the load of an input column into each multiply-add that uses it,
       loading the column up to seven times instead of once. */
    #if defined(SEPCONV_VECTOR_EXT) && (defined(__x86_64__) || defined(__i386__))
    #  define SEPCONV_KEEP(v) __asm__("" : "+v"(v))
    #elif defined(SEPCONV_VECTOR_EXT) && defined(__aarch64__)
    #  define SEPCONV_KEEP(v) __asm__("" : "+w"(v))
    #else
    #  define SEPCONV_KEEP(v) ((void) 0)
    #endif
    """
    ctypedef float vf32 "sepconv_vf32"
    ctypedef double vf64 "sepconv_vf64"
    # elements per vector
    const Py_ssize_t VL32 "SEPCONV_VL32"
    const Py_ssize_t VL64 "SEPCONV_VL64"
    # vector registers the instruction set has
    const Py_ssize_t VREGS "SEPCONV_VREGS"
    void _keep_f32 "SEPCONV_KEEP"(vf32 v) noexcept nogil
    void _keep_f64 "SEPCONV_KEEP"(vf64 v) noexcept nogil


cdef inline vf32 _vload_f32(const float* p) noexcept nogil:
    return (<const vf32*> p)[0]


cdef inline vf64 _vload_f64(const double* p) noexcept nogil:
    return (<const vf64*> p)[0]


cdef inline void _vstore_f32(float* p, vf32 v) noexcept nogil:
    (<vf32*> p)[0] = v


cdef inline void _vstore_f64(double* p, vf64 v) noexcept nogil:
    (<vf64*> p)[0] = v


cdef extern from *:
    """
    /* always_inline: GCC deems a function that only prefetches free of
       effects and drops calls to it that it does not inline. */
    #if defined(__GNUC__) || defined(__clang__)
    static inline __attribute__((always_inline)) void
    sepconv_prefetch(const void* p, Py_ssize_t nbytes) {
        const char* c = (const char*) p;
        for (Py_ssize_t i = 0; i < nbytes; i += 64) __builtin_prefetch(c + i, 0, 3);
    }
    #else
    static inline void sepconv_prefetch(const void* p, Py_ssize_t nbytes) {}
    #endif
    """
    # ask the cache for the nbytes from p on
    void _prefetch "sepconv_prefetch"(const void* p, Py_ssize_t nbytes) noexcept nogil


cdef extern from *:
    """
    #include <string.h>
    /* Through vector registers, four loads in flight, not memcpy: staging
       S8's input rows with glibc's memcpy made its depthwise step a third
       slower at two threads than with this loop. */
    static inline void sepconv_copy(void* dst, const void* src, Py_ssize_t nbytes) {
    #if defined(SEPCONV_VECTOR_EXT)
        typedef char sepconv_vbytes
            __attribute__((vector_size(SEPCONV_VBYTES), aligned(1), may_alias));
        char* d = (char*) dst;
        const char* s = (const char*) src;
        Py_ssize_t i = 0;
        for (; i + 4 * SEPCONV_VBYTES <= nbytes; i += 4 * SEPCONV_VBYTES) {
            sepconv_vbytes a = *(const sepconv_vbytes*) (s + i);
            sepconv_vbytes b = *(const sepconv_vbytes*) (s + i + SEPCONV_VBYTES);
            sepconv_vbytes c = *(const sepconv_vbytes*) (s + i + 2 * SEPCONV_VBYTES);
            sepconv_vbytes e = *(const sepconv_vbytes*) (s + i + 3 * SEPCONV_VBYTES);
            *(sepconv_vbytes*) (d + i) = a;
            *(sepconv_vbytes*) (d + i + SEPCONV_VBYTES) = b;
            *(sepconv_vbytes*) (d + i + 2 * SEPCONV_VBYTES) = c;
            *(sepconv_vbytes*) (d + i + 3 * SEPCONV_VBYTES) = e;
        }
        for (; i + SEPCONV_VBYTES <= nbytes; i += SEPCONV_VBYTES)
            *(sepconv_vbytes*) (d + i) = *(const sepconv_vbytes*) (s + i);
        for (; i < nbytes; i++) d[i] = s[i];
    #else
        memcpy(dst, src, (size_t) nbytes);
    #endif
    }
    """
    # copy nbytes from src to dst (not overlapping)
    void _copy "sepconv_copy"(void* dst, const void* src, Py_ssize_t nbytes) noexcept nogil


cdef extern from *:
    """
    #if defined(__AVX__)
    #include <immintrin.h>
    #endif
    /* d[i * ldd + j] = s[j * lds + i] for i, j < 8: an 8 x 8 block of floats
       transposed, in eight registers where AVX has them (24 shuffles for 64
       values, against a load and a store each one at a time). */
    static inline void sepconv_transpose8_f32(const float* s, Py_ssize_t lds, float* d,
                                              Py_ssize_t ldd) {
    #if defined(__AVX__)
        __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + lds);
        __m256 r2 = _mm256_loadu_ps(s + 2 * lds), r3 = _mm256_loadu_ps(s + 3 * lds);
        __m256 r4 = _mm256_loadu_ps(s + 4 * lds), r5 = _mm256_loadu_ps(s + 5 * lds);
        __m256 r6 = _mm256_loadu_ps(s + 6 * lds), r7 = _mm256_loadu_ps(s + 7 * lds);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
        __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
        __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
        /* u0: column 0 of rows 0-3, then column 4; u1: 1 and 5; u2: 2 and 6; u3: 3 and 7 */
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
        __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
        _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
        _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
        _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
        _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
        _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
        _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
        _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
    #else
        for (Py_ssize_t i = 0; i < 8; i++)
            for (Py_ssize_t j = 0; j < 8; j++) d[i * ldd + j] = s[j * lds + i];
    #endif
    }
    """
    # d[i * ldd + j] = s[j * lds + i] for i, j < 8
    void _transpose8_f32 "sepconv_transpose8_f32"(const float* s, Py_ssize_t lds, float* d,
                                                  Py_ssize_t ldd) noexcept nogil
