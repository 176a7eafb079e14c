"""``python -m sepconv demo``: end to end on a subset of the digits."""

import re

import pytest

from sepconv.__main__ import main

ACCURACY = re.compile(r"accuracy (0\.\d{4}|1\.0000)")


def test_demo_prints_both_accuracies(capsys):
    assert main(["demo", "--subset", "200", "--seed", "3", "--n-jobs", "1"]) == 0
    out = capsys.readouterr().out
    assert "train_test_split(test_size=0.25, random_state=0): 150 train, 50 test" in out
    rows = [line for line in out.splitlines() if ACCURACY.search(line)]
    assert len(rows) == 4
    assert rows[0].startswith("pixels -> LogisticRegression")
    assert "SeparableConvFeatures" in rows[2] and rows[2].split()[-5] == "256"
    accuracies = [float(ACCURACY.search(line).group(1)) for line in rows]
    assert all(0.5 < a <= 1.0 for a in accuracies)


def test_demo_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "demo.png"
    assert main(["demo", "--subset", "80", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"figure saved to {path}" in capsys.readouterr().out


def test_demo_subset_too_small():
    with pytest.raises(SystemExit, match="demo: --subset must be at least 20; received --subset 5"):
        main(["demo", "--subset", "5"])


def test_demo_plot_without_matplotlib(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(
        SystemExit,
        match=r"demo: --plot needs matplotlib: pip install "
        r"'sepconv\[plot\]'",
    ):
        main(["demo", "--plot", str(tmp_path / "x.png")])


def test_help_lists_demo(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert re.search(r"^\s+demo\s+digits", capsys.readouterr().out, re.MULTILINE)
