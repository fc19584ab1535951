"""Turning measurements into tables (plain text for the terminal, markdown
for results.md) and checking the team's targets. Ratios are always
fastcore / peer: above 1 is better for req/s, below 1 is better for CPU
time per request, latency and memory."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import scenarios
from benchmarks.runner import Measurement, ratios

Results = dict[str, dict[str, Measurement]]      # scenario -> peer -> measurement

NOISY_PCT = 10.0        # other processes' share of the two cores that taints a result


def columns(scenario: str) -> list[str]:
    s = scenarios.BY_NAME.get(scenario)
    return (["peer", "req/s"] + (["MB/s"] if s is not None and s.throughput else [])
            + ["p50", "p99", "CPU us/req", "server CPU", "peak RSS", "fc/peer req/s",
               "fc/peer CPU/req"])


def _us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if value >= 10_000 else f"{value:.0f} us"


def _rss(m: Measurement) -> str:
    return f"{m.peak_rss_mib:.1f} MiB" + (" (since start)" if m.rss_since_start else "")


def rows(results: Results, scenario: str) -> list[list[str]]:
    """One row per peer; a peer that was not measured is [name, why]."""
    by_peer = results.get(scenario, {})
    fastcore = by_peer.get("fastcore")
    throughput = "MB/s" in columns(scenario)
    out = []
    for name, m in by_peer.items():
        if not m.ok:
            out.append([name, f"{m.status}: {m.reason}"])
            continue
        r = ratios(fastcore, m) if fastcore is not None and name != "fastcore" else {}
        note = f" (others {m.others_pct:.0f}%)" if m.others_pct > NOISY_PCT else ""
        if m.reason:
            name += " *"            # a note below the table
        out.append([name, f"{m.rps:,.0f}"] + ([f"{m.mbps:,.0f}"] if throughput else [])
                   + [_us(m.p50_us), _us(m.p99_us), f"{m.cpu_us:.2f}",
                      f"{m.server_cpu_pct:.0f}%{note}", _rss(m),
                      f"{r['rps']:.2f}x" if "rps" in r else "",
                      f"{r['cpu_us']:.2f}x" if "cpu_us" in r else ""])
    return out


def notes(results: Results, scenario: str) -> list[str]:
    """What a measured peer did that the numbers alone do not show."""
    return [f"* {name}: {m.reason}" for name, m in results.get(scenario, {}).items()
            if m.ok and m.reason]


def render_text(head: list[str], body: list[list[str]]) -> str:
    """Aligned columns; a shorter row (a name and a reason) runs on."""
    full = [r for r in body if len(r) == len(head)]
    widths = [max(len(c), *(len(r[i]) for r in full)) if full else len(c)
              for i, c in enumerate(head)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(head)] + [line(r) if len(r) == len(head)
                                     else f"{r[0].ljust(widths[0])}  {r[1]}" for r in body])


def render_markdown(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for r in body:
        if len(r) < len(head):
            r = [r[0], r[1].replace("|", "/")] + [""] * (len(head) - 2)
        lines.append("| " + " | ".join(r) + " |")
    return "\n".join(lines)


def text_table(results: Results, scenario: str) -> str:
    return "\n".join([render_text(columns(scenario), rows(results, scenario))]
                     + notes(results, scenario))


def markdown_table(results: Results, scenario: str) -> str:
    extra = notes(results, scenario)
    return render_markdown(columns(scenario), rows(results, scenario)) + (
        "\n\n" + "\n".join(extra) if extra else "")


BASELINE_COLUMNS = ["scenario", "req/s", "baseline", "fc/base", "CPU us/req", "baseline",
                    "fc/base", "peak RSS", "baseline"]


def baseline_rows(results: Results, baseline: str) -> list[list[str]]:
    """fastcore against the baseline peer (`fastcore@REF`), scenario by
    scenario: the before and after of an engine change."""
    out = []
    for name, by_peer in results.items():
        fc, base = by_peer.get("fastcore"), by_peer.get(baseline)
        if fc is None or base is None:
            continue
        if not (fc.ok and base.ok):
            which = fc if not fc.ok else base
            out.append([name, f"{which.peer} {which.status}: {which.reason}"])
            continue
        r = ratios(fc, base)
        out.append([name, f"{fc.rps:,.0f}", f"{base.rps:,.0f}", f"{r.get('rps', 0):.2f}x",
                    f"{fc.cpu_us:.2f}", f"{base.cpu_us:.2f}", f"{r.get('cpu_us', 0):.2f}x",
                    _rss(fc), _rss(base)])
    return out


@dataclass(frozen=True)
class Target:
    scenario: str
    peer: str | None     # what `subject` is divided by; None: `bound` is absolute
    metric: str          # rps, cpu_us or peak_rss_mib
    bound: float
    text: str
    subject: str = "fastcore"

    def check(self, results: Results) -> tuple[str, str]:
        """(verdict, detail): PASS, FAIL or N/A, and the measured value or
        ratio (with that of the best runs where there is one)."""
        by_peer = results.get(self.scenario, {})
        names = [self.subject] + ([self.peer] if self.peer else [])
        if any(n not in by_peer for n in names):
            return "N/A", "not run"
        found = [by_peer[n] for n in names]
        bad = next((m for m in found if not m.ok), None)
        if bad is not None:
            return "N/A", f"{bad.peer} {bad.status}: {bad.reason}"
        mine = found[0]
        if self.peer is None:
            value, best = getattr(mine, self.metric), getattr(mine, "best_" + self.metric, None)
            unit = {"rps": " req/s", "cpu_us": " us", "peak_rss_mib": " MiB"}[self.metric]
            detail = f"{value:,.1f}{unit}" + (f" (best run: {best:,.1f})" if best else "")
        else:
            r = ratios(mine, found[1])
            value, best = r[self.metric], r.get("best_" + self.metric)
            detail = f"{value:.2f}x" + (f" (best runs: {best:.2f}x)" if best else "")
        good = value >= self.bound if self.metric == "rps" else value <= self.bound
        return ("PASS" if good else "FAIL"), detail


TARGETS = [
    # The core (keep-alive and pipelining).
    Target("hello", "bjoern", "rps", 1.1, "keep-alive req/s >= 1.1x bjoern"),
    Target("hello", "nginx", "cpu_us", 1.2, "keep-alive CPU/request <= 1.2x nginx"),
    Target("pipeline16", "nginx", "rps", 3.0, "16-deep pipelined req/s >= 3x nginx"),
    # Files.
    Target("static10m", "nginx", "rps", 0.9, "10 MiB file >= 90% of nginx's throughput"),
    Target("static1k", "nginx", "rps", 0.7, "1 KiB file >= 70% of nginx's req/s"),
    Target("static1k", "http.server", "rps", 10.0, "1 KiB file req/s >= 10x http.server"),
    Target("static10m", "http.server", "rps", 10.0, "10 MiB file req/s >= 10x http.server"),
    # The engine's owners and the GIL (issue 8).
    Target("browser", "nginx", "cpu_us", 1.0, "browser-like request CPU/request <= 1.0x nginx"),
    Target("pipeline16", "c-epoll", "rps", 0.85,
           "16-deep pipelined req/s >= 0.85x the C epoll reference"),
    Target("hello", None, "peak_rss_mib", 15.0, "peak RSS under keep-alive load <= 15 MiB"),
    # Streaming and WSGI (issue 10).
    Target("wsgi_hello", "bjoern", "cpu_us", 0.8, "raw WSGI CPU/request <= 0.8x bjoern"),
    Target("flask_hello", "bjoern", "rps", 1.0, "Flask req/s >= 1.0x bjoern"),
    Target("flask_hello", "gunicorn", "rps", 3.0, "Flask req/s >= 3x gunicorn sync"),
    Target("stream100m", "fastcore-file", "rps", 0.9,
           "100 MiB streamed >= 0.9x the same bytes as a file (stream/file)"),
    # Workers (issue 11): the scaling ratios.
    Target("cpu100us", "fastcore-w1", "rps", 1.8, "100 us handler: 2 workers >= 1.8x 1 worker "
           "(w2/w1)", subject="fastcore-w2"),
    Target("cpu100us", "fastcore", "rps", 0.95, "100 us handler: --workers 1 >= 0.95x no "
           "master (w1/no master)", subject="fastcore-w1"),
    # Handler threads (issue 15).
    Target("sleep10ms", None, "rps", 2500.0, "10 ms handler, --threads 32: >= 2,500 req/s",
           subject="fastcore-t32"),
    Target("sleep10ms", "gunicorn-gthread", "rps", 1.0,
           "10 ms handler, --threads 32: >= 1.0x gunicorn gthread 32 threads",
           subject="fastcore-t32"),
    Target("hello", "fastcore-t0", "cpu_us", 1.5,
           "Hello World CPU/request, --threads 32 <= 1.5x --threads 0", subject="fastcore-t32"),
]


def target_lines(results: Results) -> list[tuple[str, str, str]]:
    return [(t.text, *t.check(results)) for t in TARGETS
            if t.scenario in results]
