"""``python -m sepconv demo``: separable-convolution features on scikit-learn's digits.

Fits linear classifiers on the raw pixels and on :class:`SeparableConvFeatures`
of the bundled digits set (nothing is downloaded) and prints their test
accuracies, times and feature counts.
"""

import time

# The split every row is scored on, stated in the output.
TEST_SIZE = 0.25
SPLIT_SEED = 0


def add_arguments(parser):
    """Add the options of the ``demo`` command to ``parser``."""
    parser.add_argument(
        "--subset", type=int, metavar="N", help="use only the first N digits (a quick run)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random_state of the convolution filters (default: 0)"
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        metavar="N",
        help="threads of the convolution kernels (default: all cores)",
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help="save a figure of digits, depthwise filters and feature maps (needs matplotlib)",
    )


def run(args):
    """Fit and score the models, print the table; return the exit status."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    if args.subset is not None and args.subset < 20:
        raise SystemExit(f"demo: --subset must be at least 20; received --subset {args.subset}")
    if args.plot:
        _require_matplotlib()
    digits = load_digits()
    X, y = digits.data[: args.subset] / 16.0, digits.target[: args.subset]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED
    )
    print(f"sepconv demo: scikit-learn digits, {len(X)} images of 8x8 pixels scaled to [0, 1]")
    print(
        f"train_test_split(test_size={TEST_SIZE}, random_state={SPLIT_SEED}): "
        f"{len(X_train)} train, {len(X_test)} test; filters drawn with "
        f"random_state={args.seed}\n"
    )
    # The classifiers' matrix products are too small to gain from BLAS
    # threads, and on a busy machine threaded OpenBLAS makes their fits 5-10
    # times slower; the convolution threads (OpenMP) are not limited.
    with threadpool_limits(1, user_api="blas"):
        rows = [
            _score(name, model, X_train, y_train, X_test, y_test)
            for name, model in _models(args.seed, args.n_jobs)
        ]
    _print_table(rows)
    if args.plot:
        conv = rows[-1][1]
        _plot(args.plot, conv.steps[0][1], X_test, y_test)
        print(f"\nfigure saved to {args.plot}")
    return 0


def _models(seed, n_jobs):
    """Return ``(name, unfitted pipeline)`` pairs: each classifier on pixels, then on features.

    The last is the demo's model: its features are scaled because
    LogisticRegression's penalty, fit for unit-variance inputs, then serves
    all filters alike.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..transformer import SeparableConvFeatures

    def plain():
        return [LogisticRegression(max_iter=5000)]

    def scaled():
        return [StandardScaler(), LogisticRegression(C=0.1, max_iter=5000)]

    default = SeparableConvFeatures(random_state=seed, n_jobs=n_jobs)
    wide = SeparableConvFeatures(filters=128, pooling=("both", 2), random_state=seed, n_jobs=n_jobs)
    return [
        ("pixels -> LogisticRegression", make_pipeline(*plain())),
        ("pixels -> StandardScaler -> LogisticRegression(C=0.1)", make_pipeline(*scaled())),
        ("SeparableConvFeatures() -> LogisticRegression", make_pipeline(default, *plain())),
        (
            "SeparableConvFeatures(filters=128, pooling=('both', 2))\n"
            "  -> StandardScaler -> LogisticRegression(C=0.1)",
            make_pipeline(wide, *scaled()),
        ),
    ]


def _score(name, model, X_train, y_train, X_test, y_test):
    """Fit ``model`` and return its table row: name, model, features, times, accuracy."""
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_s = time.perf_counter() - start
    first = model.steps[0][1]
    transform_s = None
    n_features = X_train.shape[1]
    if hasattr(first, "n_features_out_"):
        start = time.perf_counter()
        first.transform(X_test)
        transform_s = time.perf_counter() - start
        n_features = first.n_features_out_
    return name, model, n_features, fit_s, transform_s, model.score(X_test, y_test)


def _print_table(rows):
    """Print one line per model (a long name wraps onto the lines above its numbers)."""
    names = [line for row in rows for line in row[0].split("\n")]
    width = max(len(line) for line in names)
    print(f"{'model':<{width}}  {'features':>8}  {'fit s':>6}  {'transform s':>11}  test")
    for name, _, n_features, fit_s, transform_s, accuracy in rows:
        *head, last = name.split("\n")
        for line in head:
            print(line)
        transform = "-" if transform_s is None else f"{transform_s:.3f}"
        print(
            f"{last:<{width}}  {n_features:>8}  {fit_s:>6.2f}  {transform:>11}  "
            f"accuracy {accuracy:.4f}"
        )
    print(
        "\nfit s: the whole pipeline on the training images; transform s: "
        "SeparableConvFeatures.transform\nof the test images; BLAS single-threaded, "
        "convolution on all cores (or --n-jobs)"
    )


def _require_matplotlib():
    """Return matplotlib's Figure class, or exit with how to install it."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise SystemExit("demo: --plot needs matplotlib: pip install 'sepconv[plot]'") from None
    return Figure


def _plot(path, features, X_test, y_test, n=8):
    """Save digits, depthwise filters and feature maps of the first digit to ``path``."""
    figure = _require_matplotlib()(figsize=(n * 1.2, 3 * 1.6), layout="constrained")
    maps = features.feature_maps(X_test[:1])[0]
    depthwise = features.depthwise_kernel_[:, :, 0, :]
    rows = [
        (
            "test digits",
            [(X_test[i].reshape(8, 8), f"label {y_test[i]}") for i in range(n)],
            "gray_r",
        ),
        (
            "random depthwise filters (channel 0)",
            [(depthwise[:, :, m], f"m={m}") for m in range(n)],
            "RdBu_r",
        ),
        (
            "feature maps of the first test digit (after ReLU)",
            [(maps[:, :, f], f"filter {f}") for f in range(n)],
            "viridis",
        ),
    ]
    for subfigure, (title, images, cmap) in zip(figure.subfigures(len(rows), 1), rows, strict=True):
        subfigure.suptitle(title, fontsize=10)
        for ax, (image, label) in zip(subfigure.subplots(1, n), images, strict=True):
            ax.imshow(image, cmap=cmap)
            ax.set_title(label, fontsize=8)
            ax.set_axis_off()
    figure.savefig(path, dpi=100)
