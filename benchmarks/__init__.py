"""fastcore's benchmark suite: see benchmarks/README.md."""
