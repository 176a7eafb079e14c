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
