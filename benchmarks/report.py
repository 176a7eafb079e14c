"""The plain-text report of a comparison (the dict ``compare.py`` builds).

Goals printed beside the figures are issue 5's: per shape at most 1.0x the
fastest peer in float32, a geometric mean of at most 0.8x in every dtype,
2 threads at least 1.7x faster than 1 on S1, S3 and S5, and one call growing
the peak RSS by at most 1.25x the output's size.
"""

GOALS = {"ratio": 1.0, "geomean": 0.8, "speedup": 1.7, "memory": 1.25}
# Shapes on which the issues ask 2 threads to be GOALS["speedup"] times faster
# than 1 (issue 5: S1, S3, S5; issue 16: L1, L2, W1).
SPEEDUP_SHAPES = ("S1", "S3", "S5", "L1", "L2", "W1")


def render(result):
    """The whole report as one string."""
    parts = [_machine(result["machine"]) + _method(result.get("settings", {}))]
    parts += [_table(table) for table in result["tables"]]
    parts.append(_problems(result["runs"]))
    if result["speedups"]:
        parts.append(_speedups(result["speedups"]))
    if "memory" in result:
        parts.append(_memory(result["memory"]))
    return "\n\n".join(part for part in parts if part)


def _machine(machine):
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items())
    return f"{machine['cpu']}, {machine['cpus']} CPUs, {machine['date']}\n{versions}"


def _method(settings):
    """What one figure is, when libraries ran in several rounds."""
    rounds = settings.get("rounds", 1)
    if rounds == 1:
        return ""
    return (
        f"\neach time: the median over {rounds} rounds (libraries in rotated order) "
        f"of the median of {settings['repeat']} calls"
    )


def _goal(value, limit):
    return "met" if value <= limit else f"MISSED by {value / limit:.2f}x"


def _table(table):
    """One (dtype, threads) table: median ms and GFLOP/s per library, ratio to the fastest peer."""
    libraries = list(table["rows"][0]["ms"])
    header = [
        "shape",
        "GFLOP",
        *(f"{lib} ms (GF/s)" for lib in libraries),
        "fastest peer",
        "sepconv/peer",
    ]
    lines = []
    for row in table["rows"]:
        cells = [row["shape"], f"{row['gflop']:.2f}"]
        for lib in libraries:
            ms = row["ms"][lib]
            mark = " CHECK FAILED" if lib in row["check_failed"] else ""
            cells.append("-" if ms is None else f"{ms:.1f} ({row['gflop'] / ms * 1e3:.1f}){mark}")
        cells += [
            row["fastest_peer"] or "-",
            "-" if row["ratio"] is None else f"{row['ratio']:.2f}",
        ]
        lines.append(cells)
    title = f"{table['dtype']}, {table['threads']} thread(s): median ms (GFLOP/s)"
    text = [title, _columns([header, *lines])]
    if table["geomean_ratio"] is not None:
        geomean = table["geomean_ratio"]
        summary = (
            f"geometric mean sepconv/fastest peer {geomean:.2f} "
            f"(goal <= {GOALS['geomean']}: {_goal(geomean, GOALS['geomean'])})"
        )
        if table["dtype"] == "float32":
            summary += (
                f"; worst {table['worst_ratio']:.2f} (goal <= {GOALS['ratio']}: "
                f"{_goal(table['worst_ratio'], GOALS['ratio'])})"
            )
        text.append(summary)
    floors = [
        f"{row['shape']} {row['ms']['blas-floor'] / row['ms'][row['fastest_peer']]:.2f}"
        for row in table["rows"]
        if row["ms"].get("blas-floor") is not None and row["fastest_peer"]
    ]
    if floors:
        text.append(
            "the pointwise GEMM alone (blas-floor) / fastest peer, the lowest ratio "
            f"any schedule on SciPy's BLAS can reach: {', '.join(floors)}"
        )
    return "\n".join(text)


def _problems(runs):
    """One line per worker that failed and per case skipped or failed (once over rounds)."""
    lines = []
    for run in runs:
        where = f"{run['library']} ({run['threads']} thread(s))"
        if run.get("status") == "error":
            last = run["reason"].splitlines()[-1] if run["reason"] else "no message"
            lines.append(f"{where}: worker failed: {last}")
        for case in run.get("cases", []):
            if case["status"] != "ok":
                lines.append(
                    f"{where} {case['shape']} {case['dtype']}: {case['status']}, {case['reason']}"
                )
            elif not case.get("check", {"ok": True})["ok"]:
                lines.append(
                    f"{where} {case['shape']} {case['dtype']}: output differs from "
                    f"sepconv's: {case['check']}"
                )
    return "\n".join(dict.fromkeys(lines))


def _speedups(speedups):
    rows = [["dtype", "shape", "1 -> 2 threads", "goal"]]
    for item in speedups:
        goal = _goal(GOALS["speedup"], item["speedup"]) if item["goal"] else ""
        rows.append([item["dtype"], item["shape"], f"{item['speedup']:.2f}x", goal])
    return (
        f"sepconv speedup, 2 threads over 1 (goal >= {GOALS['speedup']} on "
        f"{', '.join(SPEEDUP_SHAPES)})\n" + _columns(rows)
    )


def _memory(memory):
    rows = [["library", "shape", "dtype", "growth MB", "output MB", "growth/output"]]
    for item in memory:
        if item.get("status") != "ok":
            rows.append(
                [
                    item["library"],
                    item.get("shape", "-"),
                    item.get("dtype", "-"),
                    f"{item.get('status')}: {item.get('reason')}",
                    "",
                    "",
                ]
            )
            continue
        ratio = f"{item['ratio']:.2f}" + ("" if item["peak_reset"] else " (lower bound)")
        if item["library"] == "sepconv":
            ratio += f" (goal <= {GOALS['memory']}: {_goal(item['ratio'], GOALS['memory'])})"
        rows.append(
            [
                item["library"],
                item["shape"],
                item["dtype"],
                f"{item['growth_bytes'] / 1e6:.1f}",
                f"{item['output_bytes'] / 1e6:.1f}",
                ratio,
            ]
        )
    return (
        "Peak RSS growth of one call (after a one-image warm-up), fresh process per library\n"
        + _columns(rows)
    )


def _columns(rows):
    """Left-aligned text columns, two spaces apart."""
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
