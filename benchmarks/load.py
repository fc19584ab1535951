"""Running the load: wrk where it is installed, else benchmarks/loadgen.py,
in a process of its own on the load core; both print one ``BENCH {json}``
line that is parsed here.

wrk is driven by a generated Lua script that replaces ``wrk.format`` with
the scenario's exact bytes. wrk then stays in its static mode (no Lua call
per request) and counts the requests in those bytes itself, which is how
it knows that 16 pipelined requests are one write and 16 responses; its
latency is then per batch. ``done`` prints the totals as JSON instead of
wrk's human-readable text.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from benchmarks import cpus
from benchmarks.scenarios import Scenario

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# wrk "corrects" its latency histogram before done() runs: every sample
# above 2x the mean interval between responses on a connection also adds
# samples at n - e, n - 2e, ... (e = that interval). With pipelining, e
# counts responses rather than batches, so the added samples fall below the
# histogram's minimum and percentile(99) returns 0. done() undoes that
# correction exactly (wrk's own stats_correct, inverted from the top) and
# computes the percentiles of what was really measured: one sample per
# request, or per batch when pipelining.
_DONE = r"""
local connections = @CONNECTIONS@
done = function(summary, latency, requests)
  local vals, cnts = {}, {}
  for i = 1, #latency do vals[i], cnts[i] = latency(i) end
  local per_conn = math.floor(summary.requests / connections)
  local e = per_conn > 0 and math.floor(summary.duration / per_conn) or 0
  local acc, total = {}, 0
  for i = #vals, 1, -1 do
    local v = vals[i]
    if e > 0 and v > e then
      local r = v % e
      local orig = math.max(0, cnts[i] - (acc[r] or 0))
      acc[r] = (acc[r] or 0) + orig
      cnts[i] = orig
    end
    total = total + cnts[i]
  end
  local function pct(p)
    local rank, sum = math.max(1, math.ceil(total * p / 100)), 0
    for i = 1, #vals do
      sum = sum + cnts[i]
      if sum >= rank then return vals[i] end
    end
    return 0
  end
  local err = summary.errors
  io.write(string.format(
    'BENCH {"requests": %.0f, "duration_us": %.0f, "bytes": %.0f, "connect": %.0f, ' ..
    '"read": %.0f, "write": %.0f, "status": %.0f, "timeout": %.0f, ' ..
    '"p50_us": %.0f, "p99_us": %.0f, "samples": %.0f}\n',
    summary.requests, summary.duration, summary.bytes, err.connect, err.read, err.write,
    err.status, err.timeout, pct(50), pct(99), total))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    bytes: int
    p50_us: float
    p99_us: float
    errors: dict[str, int]
    samples: int                # latency samples: requests, or batches when pipelining
    load_cpu_seconds: float     # the load generator's own CPU time
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def failure(self) -> str | None:
        """Why this run cannot count: any socket error or non-2xx/3xx
        response (wrk's own definition), or nothing answered at all."""
        bad = {k: v for k, v in self.errors.items() if v}
        if bad:
            return "load errors: " + ", ".join(f"{k} {v}" for k, v in sorted(bad.items()))
        if self.requests == 0:
            return "no response completed"
        return None


def tool() -> str:
    """'wrk', or 'loadgen' when wrk is missing or FASTCORE_BENCH_LOAD=loadgen."""
    wanted = os.environ.get("FASTCORE_BENCH_LOAD", "")
    if wanted == "loadgen" or (wanted != "wrk" and shutil.which("wrk") is None):
        return "loadgen"
    return "wrk"


def _lua_string(data: bytes) -> str:
    # Three-digit decimal escapes for anything not plainly printable, so an
    # escape is never read together with a digit that follows it.
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /:.-_,;=")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in data) + '"'


def wrk_script(request: bytes, connections: int) -> str:
    return (f"local raw = {_lua_string(request)}\nwrk.format = function() return raw end\n"
            + _DONE.replace("@CONNECTIONS@", str(connections)))


def run(port: int, scenario: Scenario, seconds: float, use: str | None = None) -> LoadResult:
    """One load run of `seconds` against 127.0.0.1:`port`, with tool() or
    the tool named by `use`."""
    request = scenario.request(port)
    name = use or tool()
    with tempfile.TemporaryDirectory(prefix="fastcore-bench-load-") as tmp:
        if name == "wrk":
            script = os.path.join(tmp, "scenario.lua")
            with open(script, "w") as f:
                f.write(wrk_script(request, scenario.connections))
            argv = ["wrk", "-t1", f"-c{scenario.connections}",
                    f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", script,
                    f"http://127.0.0.1:{port}{scenario.path}"]
        else:
            raw = os.path.join(tmp, "request.bin")
            with open(raw, "wb") as f:
                f.write(request)
            argv = [sys.executable, "-m", "benchmarks.loadgen", "--port", str(port),
                    "--connections", str(scenario.connections), "--seconds", str(seconds),
                    "--depth", str(scenario.depth), "--request-file", raw]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(argv, capture_output=True, text=True, cwd=REPO,
                              timeout=seconds + 60, preexec_fn=cpus.pinner(cpus.LOAD_CPU),
                              env=dict(os.environ, PYTHONPATH=REPO))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{name} failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-500:]}")
    data = json.loads(lines[-1][len("BENCH "):])
    return LoadResult(
        requests=int(data["requests"]), seconds=data["duration_us"] / 1e6,
        bytes=int(data["bytes"]), p50_us=data["p50_us"], p99_us=data["p99_us"],
        errors={k: int(data[k]) for k in ("connect", "read", "write", "status", "timeout")},
        samples=int(data.get("samples", 0)),
        load_cpu_seconds=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        tool=name)
