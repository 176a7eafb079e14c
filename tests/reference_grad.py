"""The slow, obviously right gradients every backward path is tested against.

Written from the forward definition in ``reference.py`` (and the spec's
formula): each step's adjoint, tap by tap, in float64, channels_last only.
Nothing here imports sepconv.

    D[b,i,j,c*dm+m] = sum_p sum_q Xpad[b, i*sh + p*dh, j*sw + q*dw, c] * DK[p,q,c,m]
    Y = act(D @ PK + bias)

    dA  = dY * act'(A)                                  A = D @ PK + bias
    dPK = D^T dA,  dbias = sum of dA,  dD = dA PK^T
    dDK[p,q,c,m] = sum_{b,i,j} Xpad[b, i*sh + p*dh, j*sw + q*dw, c] * dD[b,i,j,c*dm+m]
    dXpad[b, i*sh + p*dh, j*sw + q*dw, c] += sum_m DK[p,q,c,m] * dD[b,i,j,c*dm+m]
"""

import numpy as np
from reference import depthwise, output_size


def _padded_geometry(x_shape, dk_shape, strides, padding, dilation):
    _, h, w, _ = x_shape
    kh, kw = dk_shape[:2]
    (sh, sw), (dh, dw) = strides, dilation
    ho, pt = output_size(h, kh, sh, dh, padding)
    wo, pl = output_size(w, kw, sw, dw, padding)
    pad_h = max(0, (ho - 1) * sh + dh * (kh - 1) + 1 - h - pt)
    pad_w = max(0, (wo - 1) * sw + dw * (kw - 1) + 1 - w - pl)
    return (ho, wo), ((0, 0), (pt, pad_h), (pl, pad_w), (0, 0))


def depthwise_grad(dd, x, dk, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """``(dx, ddk)`` of the depthwise step, ``dd`` the gradient of its NHWC output."""
    x = np.asarray(x, dtype=np.float64)
    dk = np.asarray(dk, dtype=np.float64)
    kh, kw, c, dm = dk.shape
    (sh, sw), (dh, dw) = strides, dilation
    (ho, wo), pads = _padded_geometry(x.shape, dk.shape, strides, padding, dilation)
    xp = np.pad(x, pads)
    dxp = np.zeros_like(xp)
    dd = np.asarray(dd, dtype=np.float64).reshape(x.shape[0], ho, wo, c, dm)
    ddk = np.zeros_like(dk)
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dh, p * dh + (ho - 1) * sh + 1, sh)
            cols = slice(q * dw, q * dw + (wo - 1) * sw + 1, sw)
            patch = xp[:, rows, cols]  # (n, ho, wo, c)
            ddk[p, q] = np.einsum("nhwc,nhwcm->cm", patch, dd)
            dxp[:, rows, cols] += np.einsum("nhwcm,cm->nhwc", dd, dk[p, q])
    (_, top, _), (_, left, _) = (0, pads[1][0], 0), (0, pads[2][0], 0)
    h, w = x.shape[1:3]
    return dxp[:, top : top + h, left : left + w], ddk


def pointwise_grad(da, z, pk):
    """``(dz, dpk, dbias)`` of ``z @ pk + bias``, ``da`` the gradient of its output."""
    da = np.asarray(da, dtype=np.float64)
    z = np.asarray(z, dtype=np.float64)
    pk = np.asarray(pk, dtype=np.float64).reshape(np.shape(pk)[-2:])
    dz = np.einsum("nhwf,kf->nhwk", da, pk)
    dpk = np.einsum("nhwk,nhwf->kf", z, da)
    return dz, dpk, da.sum(axis=(0, 1, 2))


def separable_grad(
    dy, x, dk, pk, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1), relu=False
):
    """Dict of the four gradients of the separable convolution (ReLU optional)."""
    d = depthwise(x, dk, strides, padding, dilation)
    pk2 = np.asarray(pk, dtype=np.float64).reshape(np.shape(pk)[-2:])
    da = np.asarray(dy, dtype=np.float64)
    if relu:
        a = d @ pk2 + (0 if bias is None else np.asarray(bias, dtype=np.float64))
        da = np.where(a > 0, da, 0.0)
    dd, dpk, db = pointwise_grad(da, d, pk2)
    dx, ddk = depthwise_grad(dd, x, dk, strides, padding, dilation)
    return {"x": dx, "depthwise_kernel": ddk, "pointwise_kernel": dpk, "bias": db}
