"""
The Keras layer and its config round trip
=========================================

:class:`sepconv.SeparableConv2D` takes Keras 3's arguments, builds its
weights on the first call, and gives a Keras config; a layer made from that
config, given the same weights, computes the same numbers.
"""

import json

import matplotlib.pyplot as plt
import numpy as np

import sepconv

rng = np.random.default_rng(0)
x = rng.standard_normal((2, 16, 16, 3)).astype(np.float32)

layer = sepconv.SeparableConv2D(8, 3, padding="same", depth_multiplier=2, activation="relu")
y = layer(x)  # builds the weights
print("output:", y.shape, y.dtype)
print("weights:", [w.shape for w in layer.get_weights()])

# %%
# The config is plain JSON, the same keys as Keras's.
config = layer.get_config()
print(json.dumps({k: config[k] for k in ("filters", "kernel_size", "padding", "activation")}))

# %%
# Round trip: a new layer from the config, the weights copied across.
clone = sepconv.SeparableConv2D.from_config(json.loads(json.dumps(config)))
clone.build(x.shape)
clone.set_weights(layer.get_weights())
print("same output:", np.array_equal(clone(x), y))

# %%
# The first image's eight output maps.
fig, axes = plt.subplots(1, 8, figsize=(8, 1.4))
for channel, ax in enumerate(axes):
    ax.imshow(y[0, :, :, channel], cmap="viridis")
    ax.set_title(f"filter {channel}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
plt.show()
