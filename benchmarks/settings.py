"""How long the pytest benchmarks run, from the environment: bounded by
default so CI can afford the whole suite (6 scenarios x 8 peers, about
5 s each); raise them for steadier numbers."""

import os

SECONDS = float(os.environ.get("FASTCORE_BENCH_SECONDS", "3"))   # one load run
RUNS = int(os.environ.get("FASTCORE_BENCH_RUNS", "1"))           # medians over these
WARMUP = float(os.environ.get("FASTCORE_BENCH_WARMUP", "1"))     # unmeasured load first
