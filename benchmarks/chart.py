"""The bar chart of a comparison: GFLOP/s per shape and library (matplotlib, imported lazily)."""


def draw(result, path):
    """Save one panel per (dtype, threads), grouped bars of GFLOP/s, to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on benchmark machines
    import matplotlib.pyplot as plt

    tables = result["tables"]
    figure, axes = plt.subplots(len(tables), 1, figsize=(10, 3.2 * len(tables)), squeeze=False)
    for ax, table in zip(axes[:, 0], tables, strict=True):
        _panel(ax, table)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=len(labels))
    machine = result["machine"]
    figure.suptitle(
        f"sepconv vs peers, {machine['cpu']}, {machine['cpus']} CPUs, {machine['date'][:10]}"
    )
    figure.tight_layout(rect=(0, 0.04, 1, 1))
    figure.savefig(path, dpi=120)
    plt.close(figure)


def _panel(ax, table):
    """Grouped bars for one table; a missing figure leaves its bar out."""
    rows = table["rows"]
    libraries = list(rows[0]["ms"])
    width = 0.8 / len(libraries)
    for i, lib in enumerate(libraries):
        positions = [j + (i - (len(libraries) - 1) / 2) * width for j in range(len(rows))]
        rates = [row["gflop"] / row["ms"][lib] * 1e3 if row["ms"][lib] else 0 for row in rows]
        ax.bar(positions, rates, width, label=lib)
    ax.set_xticks(range(len(rows)), [row["shape"] for row in rows])
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"{table['dtype']}, {table['threads']} thread(s)")
