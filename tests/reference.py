"""The slow, obviously right definition every fast path is tested against.

Written straight from the spec's arithmetic (shared/spec/keras-separableconv2d.md),
in float64 with plain loops over the kernel taps, channels_last only: the
tests transpose for channels_first.  Nothing here imports sepconv.

    D[b,i,j,c*dm+m] = sum_p sum_q Xpad[b, i*sh + p*dh, j*sw + q*dw, c] * DK[p,q,c,m]
    Y = D @ PK[0,0] + bias
"""

import math

import numpy as np


def output_size(n, k, s, d, padding):
    """Output length and zeros before, for one spatial axis."""
    ek = d * (k - 1) + 1
    if padding == "valid":
        return (n - ek) // s + 1, 0
    out = math.ceil(n / s)
    total = max((out - 1) * s + ek - n, 0)
    return out, total // 2


def depthwise(x, dk, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Depthwise convolution of NHWC ``x`` with ``dk`` (kh, kw, C, dm); float64 result."""
    x = np.asarray(x, dtype=np.float64)
    dk = np.asarray(dk, dtype=np.float64)
    n, h, w, c = x.shape
    kh, kw, _, dm = dk.shape
    (sh, sw), (dh, dw) = strides, dilation
    ho, pt = output_size(h, kh, sh, dh, padding)
    wo, pl = output_size(w, kw, sw, dw, padding)
    # zero padding wide enough for every tap, "same" or "valid"
    pad_h = max(0, (ho - 1) * sh + dh * (kh - 1) + 1 - h - pt)
    pad_w = max(0, (wo - 1) * sw + dw * (kw - 1) + 1 - w - pl)
    xp = np.pad(x, ((0, 0), (pt, pad_h), (pl, pad_w), (0, 0)))
    out = np.zeros((n, ho, wo, c, dm))
    for p in range(kh):
        for q in range(kw):
            rows = xp[:, p * dh : p * dh + (ho - 1) * sh + 1 : sh]
            patch = rows[:, :, q * dw : q * dw + (wo - 1) * sw + 1 : sw]  # (n, ho, wo, c)
            out += patch[..., None] * dk[p, q][None, None, None]
    return out.reshape(n, ho, wo, c * dm)


def separable(x, dk, pk, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Separable convolution of NHWC ``x``; ``pk`` is (1, 1, K, F) or (K, F); float64 result."""
    d = depthwise(x, dk, strides, padding, dilation)
    pk = np.asarray(pk, dtype=np.float64)
    pk = pk.reshape(pk.shape[-2:])
    y = np.einsum("nhwk,kf->nhwf", d, pk)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return y
