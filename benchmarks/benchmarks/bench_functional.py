"""``sepconv.separable_conv2d`` on the shapes S1-S8 of issue 5."""

from .common import DTYPES, SHAPES, Timed, make_data, peers, rss, warm_up


class SeparableConv2D(Timed):
    """Forward time on every shape, dtype and thread count (1 and 2)."""

    params = (list(SHAPES), list(DTYPES), [1, 2])
    param_names = ["shape", "dtype", "threads"]

    def setup(self, shape, dtype, threads):
        self.shape = SHAPES[shape]
        warm_up(self.shape, dtype, threads)
        self.data = make_data(self.shape, dtype)

    def time_separable_conv2d(self, shape, dtype, threads):
        peers.sepconv_forward(self.shape, self.data, threads)


class _OnS1:
    """The operands of S1 in each dtype, for the memory benchmarks."""

    params = (list(DTYPES),)
    param_names = ["dtype"]
    timeout = 300

    def setup(self, dtype):
        self.shape = SHAPES["S1"]
        self.data = make_data(self.shape, dtype)


class PeakMemory(_OnS1):
    """asv's peak RSS of the process for one call on S1, operands included."""

    def peakmem_separable_conv2d(self, dtype):
        peers.sepconv_forward(self.shape, self.data, 2)


class RssGrowth(_OnS1):
    """Issue 5's figure: peak RSS growth of one call on S1 over the output's size.

    The growth is over the RSS with the operands held (goal <= 1.25), after
    a call on a one-image batch has done the once-per-process set-up, as
    ``compare.py --memory`` measures it for sepconv and its peers.
    """

    def setup(self, dtype):
        if not rss.reset_peak():
            raise NotImplementedError("the peak RSS cannot be reset here (/proc/self/clear_refs)")
        warm_up(SHAPES["S1"], dtype, 2)
        super().setup(dtype)

    def track_rss_growth_over_output(self, dtype):
        rss.reset_peak()
        before = rss.peak_bytes()
        out = peers.sepconv_forward(self.shape, self.data, 2)
        return (rss.peak_bytes() - before) / out.nbytes

    track_rss_growth_over_output.unit = "x output size"
