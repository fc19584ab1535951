"""How long the pytest benchmarks run, and against what, from the
environment: bounded by default so CI can afford the whole suite (about
5 s per scenario and peer); raise them for steadier numbers."""

import os

SECONDS = float(os.environ.get("FASTCORE_BENCH_SECONDS", "3"))   # one load run
RUNS = int(os.environ.get("FASTCORE_BENCH_RUNS", "1"))           # medians over these
WARMUP = float(os.environ.get("FASTCORE_BENCH_WARMUP", "1"))     # unmeasured load first
# A git ref: fastcore built there also runs, as fastcore@REF, beside fastcore.
BASELINE = os.environ.get("FASTCORE_BENCH_BASELINE") or None
# Sequential requests per case of benchmarks/test_gil_latency.py.
GIL_REQUESTS = int(os.environ.get("FASTCORE_BENCH_GIL_REQUESTS", "100"))
