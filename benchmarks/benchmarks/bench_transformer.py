"""The scikit-learn transformer ``sepconv.SeparableConvFeatures`` (issue 6).

Skipped while the transformer does not exist.  Data: 2000 random
28 x 28 one-channel images (MNIST-sized), default parameters.
"""

import numpy as np

from .common import DTYPES, Timed, required_class


class Transformer(Timed):
    """``fit`` then ``transform`` of a default transformer, 1 and 2 jobs."""

    params = (list(DTYPES), [1, 2])
    param_names = ["dtype", "n_jobs"]

    def setup(self, dtype, n_jobs):
        transformer_class = required_class("SeparableConvFeatures", "transformer")
        rng = np.random.default_rng(0)
        self.images = rng.standard_normal((2000, 28, 28, 1), dtype=dtype)
        self.fitted = transformer_class(random_state=0, n_jobs=n_jobs).fit(self.images)
        self.transformer_class = transformer_class

    def time_fit(self, dtype, n_jobs):
        self.transformer_class(random_state=0, n_jobs=n_jobs).fit(self.images)

    def time_transform(self, dtype, n_jobs):
        self.fitted.transform(self.images)

    def peakmem_transform(self, dtype, n_jobs):
        self.fitted.transform(self.images)
