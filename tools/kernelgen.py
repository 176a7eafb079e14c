"""Write sepconv/_native/_kernels_blocks.pxi: the unrolled register kernels of the depthwise step.

Run by setup.py before Cython; the output is a build product (git-ignored).

A register kernel computes a block of BLOCK output pixels for n channels,
one SIMD vector of channels at a time (the vector types of _simd.pxi), with
the block's sums in vector registers from the bias to the final store and
the weights of one kernel row in registers while that row is applied.

Pixel b's tap q reads the input column ``b * stride + q * dilation`` of the
block's first.  For the common (stride, dilation) pairs and kernel widths up
to MAX_KW the taps are written out: each input column is loaded once and
serves every (pixel, tap) pair that reads it (ten loads for the 24 products
of a 3-tap row at unit stride), and its address is a pointer to every third
column plus 0, 1 or 2 column steps, which x86 addressing reaches from one
register, so the compiler needs no register per column.  The rows of a
square 3x3 window are written out as well (SQUARE).  Every other case runs
one generic kernel with the taps in a loop.

A 3x3 window at unit steps has a second kernel that computes the blocks of
two output rows a kernel row apart at once (``_dw2_``): they read four input
rows instead of six, each column loaded once for both.  Its sixteen sums and
nine weights need 32 vector registers (AVX-512, NEON).

Each kernel comes twice: for blocks inside the image, and for blocks whose
columns reach into the padding ("guarded", ``_dwg_``), which read a zero
vector for the columns outside the image, choosing the pointer without a
branch.

Weights come packed by channel chunk (tap t of the chunk at ``w[t * CHUNK]``,
see pack_weights in _kernels.pxi), so their offsets are constants too.
"""

BLOCK = 8
MAX_KW = 7
# square windows whose kernel rows are written out too (see kernel())
SQUARE = (3,)
# (stride, dilation) pairs with dedicated code
STEPPINGS = {"s1d1": (1, 1), "s2d1": (2, 1), "s1d2": (1, 2)}
# name suffix, scalar type, vector type, elements per vector
DTYPES = {"f32": ("float", "vf32", "VL32"), "f64": ("double", "vf64", "VL64")}

PARAMS = (
    "{t}* dst, Py_ssize_t ldd, Py_ssize_t n, const {t}* x,\n"
    "        Py_ssize_t row_stride, Py_ssize_t u, Py_ssize_t sw, Py_ssize_t dw,\n"
    "        Py_ssize_t p0, Py_ssize_t p1, Py_ssize_t j0, Py_ssize_t j1, Py_ssize_t kw,\n"
    "        const {t}* w, const {t}* bias, const {t}* zero"
)
ARGS = "dst, ldd, n, x, row_stride, u, sw, dw, p0, p1, j0, j1, kw, w, bias, zero"

DOC = '''    """dst[b * ldd + c] = bias[c] + the taps of kernel rows p0..p1-1, pixels b < BLOCK.

    Channels c < n - n % VL.  Row p of the input starts at x + p * row_stride,
    its columns are u elements apart, and pixel b's tap q reads column
    b * sw + q * dw.  {columns}
    """
'''
COLUMNS = {
    False: "Every column read lies in the image.",
    True: "Only columns j0..j1-1 lie in the image: the others are\n"
    "    read from ``zero`` (CHUNK zeros), the pointer chosen without a branch.",
}


def _column_pointers(kw, stepping):
    """Multiples of 3 below the block's span: the columns with a pointer of their own."""
    if not kw:
        return []
    s, d = STEPPINGS[stepping]
    return list(range(3, (BLOCK - 1) * s + (kw - 1) * d + 1, 3))


def _unrolled_taps(kw, stepping, suffix, guarded, indent, targets=(("a", "w"),)):
    """One input row's taps: each column loaded once, used by all its taps.

    Each (sums, weights) pair in ``targets`` takes the row: sum ``{sums}{b}``
    of pixel b adds the column times weight ``{weights}{q}`` of its tap q.
    """
    s, d = STEPPINGS[stepping]
    uses = {}
    for b in range(BLOCK):
        for q in range(kw):
            for sums, weights in targets:
                uses.setdefault(b * s + q * d, []).append(
                    f"{sums}{b} = {sums}{b} + v * {weights}{q}"
                )
    # column j is read at x{3k} + (j - 3k) * u: with u in a register, x86
    # addressing reaches the two columns after each pointer (scales 4 and 8
    # for float32), so a few pointers serve every column, where one offset
    # register per column would spill
    out = [f"{indent}x{k} = xp + {k} * u\n" for k in _column_pointers(kw, stepping)]
    for j in sorted(uses):
        k = j - j % 3
        base = "xp" if k == 0 else f"x{k}"
        address = {0: base, 1: f"{base} + u"}.get(j % 3, f"{base} + 2 * u")
        if guarded:
            address = f"{address} if j0 <= {j} < j1 else zc"
        out.append(f"{indent}v = _vload_{suffix}({address})\n")
        if len(uses[j]) > 1:
            out.append(f"{indent}_keep_{suffix}(v)\n")
        out.extend(f"{indent}{update}\n" for update in uses[j])
    return out


def _looped_taps(suffix, guarded):
    """Body of the kernel-row loop for any kernel width, stride and dilation."""
    out = [
        "            for q in range(kw):\n",
        f"                w0 = _vload_{suffix}(wp + q * CHUNK)\n",
    ]
    for b in range(BLOCK):
        address = f"xp + ({b} * sw + q * dw) * u"
        if guarded:
            address = f"{address} if j0 <= {b} * sw + q * dw < j1 else zc"
        out.append(f"                a{b} = a{b} + _vload_{suffix}({address}) * w0\n")
    return out


def kernel_name(kw, stepping, suffix, guarded, rows=None):
    """Name of one register kernel; kw None for the generic one."""
    shape = (f"k{rows}x{kw}" if rows else f"k{kw}") + f"_{stepping}" if kw else "any"
    return f"_dw{'g' if guarded else ''}_{shape}_{suffix}"


def _pointer_declarations(t, pointers, guarded):
    """The kernel's input and weight pointers: row, every third column, the zero vector."""
    return (
        f"    cdef const {t}* xp\n    cdef const {t}* wp\n"
        + "".join(f"    cdef const {t}* x{k}\n" for k in pointers)
        + (f"    cdef const {t}* zc\n" if guarded else "")
    )


def _sums_from_bias(suffix, sums):
    """Each block's sums (``sums`` prefixes, pixels 0..BLOCK-1) start at the bias."""
    first = f"{sums[0]}0"
    out = [f"        {first} = _vload_{suffix}(bias + c)\n"]
    return out + [
        f"        {prefix}{b} = {first}\n"
        for prefix in sums
        for b in range(BLOCK)
        if f"{prefix}{b}" != first
    ]


def _store_sums(suffix, sums, offset=""):
    """Pixel b's sum ``{sums}{b}`` into dst + ``offset`` + b * ldd + c."""
    return [
        f"        _vstore_{suffix}(dst + {offset}{f'{b} * ldd + ' if b else ''}c, {sums}{b})\n"
        for b in range(BLOCK)
    ]


def _by_dtype(body):
    """``if floating is float:`` / ``else:`` branches holding ``body(suffix)``."""
    out = []
    for index, (suffix, (t, _, _)) in enumerate(DTYPES.items()):
        out.append(f"    if floating is {t}:\n" if index == 0 else "    else:\n")
        out += body(suffix)
    return out


def kernel(kw, stepping, suffix, guarded, rows=None):
    """One register kernel: kw fixed and ``stepping`` a STEPPINGS key, or both None.

    With ``rows``, the kernel applies exactly that many kernel rows from p0
    on, written out instead of looped over: each load then steps through
    memory by one vector per channel loop, a pattern the hardware
    prefetcher follows (a load in a loop over rows jumps between rows).
    """
    t, vec, vl = DTYPES[suffix]
    widths = range(kw) if kw else range(1)
    out = [
        f"cdef inline void {kernel_name(kw, stepping, suffix, guarded, rows)}("
        f"{PARAMS.format(t=t)}) noexcept nogil:\n",
        DOC.format(columns=COLUMNS[guarded]),
        f"    cdef Py_ssize_t c = 0, p{'' if kw else ', q'}\n",
        _pointer_declarations(t, _column_pointers(kw, stepping), guarded),
        f"    cdef {vec} v, {', '.join(f'a{b}' for b in range(BLOCK))}, "
        f"{', '.join(f'w{q}' for q in widths)}\n",
        f"    while c + {vl} <= n:\n",
    ]
    out += _sums_from_bias(suffix, "a")
    out += ["        zc = zero + c\n"] if guarded else []
    if rows:
        for p in range(rows):
            out += _kernel_row(kw, stepping, suffix, guarded, f"(p0 + {p})", " " * 8)
    else:
        out.append("        for p in range(p0, p1):\n")
        out += _kernel_row(kw, stepping, suffix, guarded, "p", " " * 12)
    out += _store_sums(suffix, "a")
    out.append(f"        c += {vl}\n")
    return "".join(out) + "\n\n"


def _kernel_row(kw, stepping, suffix, guarded, row, indent):
    """Kernel row ``row`` of a kernel: its input row and weights, then its taps."""
    out = [
        f"{indent}xp = x + {row} * row_stride + c\n",
        f"{indent}wp = w + {row} * kw * CHUNK + c\n",
    ]
    if not kw:
        return out + _looped_taps(suffix, guarded)
    out += [
        f"{indent}w{q} = _vload_{suffix}(wp{f' + {q} * CHUNK' if q else ''})\n" for q in range(kw)
    ]
    return out + _unrolled_taps(kw, stepping, suffix, guarded, indent)


PAIR_DOC = '''    """The 3x3 kernel (unit steps) for two rows.

    Rows p0..p0+2 into dst, p0+1..p0+3 into dst + ldr.

    Channels c < n - n % VL; every input column read lies in the image.
    """
'''


def pair_kernel(suffix):
    """_dw2_k3x3_s1d1: the 3x3 kernel at unit steps for two output rows at once."""
    t, vec, vl = DTYPES[suffix]
    weights = [f"w{p}_{q}" for p in range(3) for q in range(3)]
    out = [
        f"cdef inline void _dw2_k3x3_s1d1_{suffix}({PARAMS.format(t=t)},\n"
        f"        Py_ssize_t ldr) noexcept nogil:\n",
        PAIR_DOC,
        "    cdef Py_ssize_t c = 0\n",
        _pointer_declarations(t, _column_pointers(3, "s1d1"), False),
        f"    cdef {vec} v, {', '.join(f'a{b}, b{b}' for b in range(BLOCK))}\n",
        f"    cdef {vec} {', '.join(weights)}\n",
        f"    while c + {vl} <= n:\n",
    ]
    out += _sums_from_bias(suffix, "ab")
    out.append("        wp = w + p0 * kw * CHUNK + c\n")
    out += [
        f"        {name} = _vload_{suffix}(wp + {tap} * CHUNK)\n"
        for tap, name in enumerate(weights)
    ]
    for row in range(4):
        targets = ([("a", f"w{row}_")] if row < 3 else []) + (
            [("b", f"w{row - 1}_")] if row else []
        )
        out.append(f"        xp = x + (p0 + {row}) * row_stride + c\n")
        out += _unrolled_taps(3, "s1d1", suffix, False, " " * 8, targets)
    out += _store_sums(suffix, "a") + _store_sums(suffix, "b", "ldr + ")
    out.append(f"        c += {vl}\n")
    return "".join(out) + "\n\n"


def pair_dispatcher():
    """_dw_pair: pair_kernel of the dtype."""
    out = [
        f"cdef inline void _dw_pair({PARAMS.format(t='floating')},\n"
        "        Py_ssize_t ldr) noexcept nogil:\n",
        '    """pair_kernel of this dtype (see kernelgen.py)."""\n',
    ]
    out += _by_dtype(lambda suffix: [f"        _dw2_k3x3_s1d1_{suffix}({ARGS}, ldr)\n"])
    return "".join(out) + "\n\n"


def _dispatch_dtype(suffix, guarded, indent):
    """The if-chain choosing the kernel of one dtype and guard."""
    out, keyword = [], "if"
    for stepping, (s, d) in STEPPINGS.items():
        for kw in SQUARE:
            condition = f"kw == {kw} and p1 - p0 == {kw} and sw == {s} and dw == {d}"
            out.append(
                f"{indent}{keyword} {condition}:\n"
                f"{indent}    {kernel_name(kw, stepping, suffix, guarded, kw)}({ARGS})\n"
            )
            keyword = "elif"
        for kw in range(1, MAX_KW + 1):
            out.append(
                f"{indent}{keyword} kw == {kw} and sw == {s} and dw == {d}:\n"
                f"{indent}    {kernel_name(kw, stepping, suffix, guarded)}({ARGS})\n"
            )
            keyword = "elif"
    out.append(f"{indent}else:\n{indent}    {kernel_name(None, None, suffix, guarded)}({ARGS})\n")
    return out


def dispatcher():
    """_dw_block: the kernel for the kernel width, stride, dilation, guard and dtype."""
    out = [
        f"cdef inline void _dw_block({PARAMS.format(t='floating')}) noexcept nogil:\n",
        '    """The register kernel for these steps and kernel width (see kernelgen.py).\n\n'
        '    Columns j0..j1-1 lie in the image; j1 = -1 says all of them do.\n    """\n',
    ]
    out += _by_dtype(
        lambda suffix: [
            "        if j1 < 0:\n",
            *_dispatch_dtype(suffix, False, " " * 12),
            "        else:\n",
            *_dispatch_dtype(suffix, True, " " * 12),
        ]
    )
    return "".join(out) + "\n\n"


def generate():
    """Return the text of _kernels_blocks.pxi."""
    parts = [
        "# Generated by tools/kernelgen.py when the package is built: edit that file.\n"
        "# Register kernels of the depthwise step; see the generator's docstring.\n\n\n"
    ]
    for suffix in DTYPES:
        for guarded in (False, True):
            for stepping in STEPPINGS:
                for kw in SQUARE:
                    parts.append(kernel(kw, stepping, suffix, guarded, rows=kw))
                for kw in range(1, MAX_KW + 1):
                    parts.append(kernel(kw, stepping, suffix, guarded))
            parts.append(kernel(None, None, suffix, guarded))
        parts.append(pair_kernel(suffix))
    parts.append(dispatcher())
    parts.append(pair_dispatcher())
    return "".join(parts)


def write(path):
    """Write the generated kernels to ``path`` unless it already holds them."""
    text = generate()
    try:
        with open(path) as fh:
            if fh.read() == text:
                return
    except OSError:
        pass
    with open(path, "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default="sepconv/_native/_kernels_blocks.pxi")
    write(parser.parse_args().path)
