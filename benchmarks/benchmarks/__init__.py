"""The asv suite of sepconv (run asv from the benchmarks/ directory; see benchmarks/README.md)."""
