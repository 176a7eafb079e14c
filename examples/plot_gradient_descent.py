"""
Recovering filters by gradient descent
======================================

A target is made with known filters; starting from small random filters,
:func:`sepconv.separable_conv2d_grad` gives the gradients of the mean squared
error and :class:`sepconv.optimizers.Adam` updates the filters in place.
"""

import matplotlib.pyplot as plt
import numpy as np

import sepconv
from sepconv import optimizers

rng = np.random.default_rng(0)
x = rng.standard_normal((4, 16, 16, 3))
true_dk = rng.standard_normal((3, 3, 3, 1))
true_pk = rng.standard_normal((1, 1, 3, 4))
target = sepconv.separable_conv2d(x, true_dk, true_pk, padding="same")

dk = rng.standard_normal(true_dk.shape) * 0.1
pk = rng.standard_normal(true_pk.shape) * 0.1
opt = optimizers.Adam(learning_rate=0.05)
losses = []
for _ in range(200):
    y = sepconv.separable_conv2d(x, dk, pk, padding="same")
    losses.append(np.mean((y - target) ** 2))
    grads = sepconv.separable_conv2d_grad(
        2 * (y - target) / y.size,
        x,
        dk,
        pk,
        padding="same",
        wrt=("depthwise_kernel", "pointwise_kernel"),
    )
    opt.apply([grads["depthwise_kernel"], grads["pointwise_kernel"]], [dk, pk])

print(f"loss: {losses[0]:.3f} at the start, {losses[-1]:.1e} after {len(losses)} steps")

# %%
# The loss, on a log scale.
fig, ax = plt.subplots(figsize=(6, 3))
ax.semilogy(losses)
ax.set_xlabel("step")
ax.set_ylabel("mean squared error")
fig.tight_layout()
plt.show()
