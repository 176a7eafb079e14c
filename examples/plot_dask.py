"""
Convolutions over a Dask array
==============================

:mod:`sepconv.dask` runs the convolutions over a Dask array chunked along the
batch and spatial axes; the result equals the NumPy function's on the whole
array.  Here a small local array and Dask's threaded scheduler: no cluster.
"""

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np

import sepconv
from sepconv import dask as sepconv_dask

rng = np.random.default_rng(0)
images = rng.standard_normal((4, 96, 96, 3)).astype(np.float32)
x = da.from_array(images, chunks=(2, 32, 32, 3))
dk = rng.standard_normal((5, 5, 3, 2)).astype(np.float32)
pk = rng.standard_normal((1, 1, 6, 8)).astype(np.float32)

y = sepconv_dask.separable_conv2d(x, dk, pk, padding="same", activation="relu")
print("shape, chunks and dtype known before computing:", y.shape, y.dtype)
print("output chunks:", y.chunks[:3])

# %%
# Computed with the threaded scheduler, and compared with the NumPy function.
with dask.config.set(scheduler="threads"):
    result = y.compute()
expected = sepconv.separable_conv2d(images, dk, pk, padding="same", activation="relu")
print("equal to the NumPy function:", np.allclose(result, expected, rtol=1e-5, atol=1e-5))

# %%
# The chunk grid over the first image's first feature map.
fig, ax = plt.subplots(figsize=(4, 4))
ax.imshow(result[0, :, :, 0], cmap="viridis")
for edge in np.cumsum(y.chunks[1])[:-1]:
    ax.axhline(edge - 0.5, color="white", linewidth=0.8)
for edge in np.cumsum(y.chunks[2])[:-1]:
    ax.axvline(edge - 0.5, color="white", linewidth=0.8)
ax.set_title("output map 0, chunk edges in white")
ax.axis("off")
plt.show()
