"""
Benchmark results against PyTorch, TensorFlow and ONNX Runtime
===============================================================

The comparison shipped in ``docs/benchmarks/latest.json`` (made by
``benchmarks/compare.py``; nothing is measured here): for each benchmark
shape, sepconv's time divided by the fastest peer's, per dtype and thread
count.  Below 1, sepconv is the faster.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

# Run from examples/, as the gallery runs it.
results = Path("..", "docs", "benchmarks", "latest.json")
result = json.loads(results.read_text())
machine = result["machine"]
print(f"measured {machine['date'][:10]} on {machine['cpu']}, {machine['cpus']} CPUs")

# %%
# Geometric mean of the ratios, per table.
for table in result["tables"]:
    print(f"{table['dtype']}, {table['threads']} thread(s): {table['geomean_ratio']:.2f}")

# %%
# The ratio per shape, one group of bars per table.
tables = result["tables"]
shapes = [row["shape"] for row in tables[0]["rows"]]
width = 0.8 / len(tables)
fig, ax = plt.subplots(figsize=(8, 3.5))
for i, table in enumerate(tables):
    positions = np.arange(len(shapes)) + (i - (len(tables) - 1) / 2) * width
    ratios = [row["ratio"] for row in table["rows"]]
    ax.bar(positions, ratios, width, label=f"{table['dtype']}, {table['threads']} thread(s)")
ax.axhline(1.0, color="black", linewidth=0.8)
ax.set_xticks(range(len(shapes)), shapes)
ax.set_ylabel("sepconv / fastest peer")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
