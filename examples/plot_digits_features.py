"""
Image features for scikit-learn's digits
========================================

:class:`~sepconv.transformer.SeparableConvFeatures` turns the 8x8 digit
images into features with one random depthwise separable convolution, a ReLU
and a pooling; a logistic regression on them is compared with the same model
on the raw pixels.  The digits ship with scikit-learn: nothing is downloaded.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sepconv.transformer import SeparableConvFeatures

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, test_size=0.3, random_state=0)

# %%
# Raw pixels against separable-convolution features, same classifier.
raw = LogisticRegression(max_iter=3000).fit(X_train, y_train)
features = make_pipeline(
    SeparableConvFeatures(random_state=0), LogisticRegression(max_iter=3000)
).fit(X_train, y_train)
print(f"raw pixels: accuracy {raw.score(X_test, y_test):.3f}")
print(f"sepconv features: accuracy {features.score(X_test, y_test):.3f}")

# %%
# The transformer's output: one row of features per image.
transformer = features[0]
print("features per image:", transformer.transform(X_test[:1]).shape[1])

# %%
# A few test digits with the pipeline's predictions.
fig, axes = plt.subplots(1, 8, figsize=(8, 1.6))
predictions = features.predict(X_test[:8])
for ax, image, label in zip(axes, X_test[:8], predictions, strict=True):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"predicted {label}", fontsize=8)
    ax.axis("off")
fig.tight_layout()
plt.show()
