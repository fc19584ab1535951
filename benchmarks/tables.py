"""Turning measurements into tables (plain text for the terminal, markdown
for results.md) and checking the team's targets. Ratios are always
fastcore / peer: above 1 is better for req/s, below 1 is better for CPU
time per request and latency."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.runner import Measurement, ratios

Results = dict[str, dict[str, Measurement]]      # scenario -> peer -> measurement

COLUMNS = ["peer", "req/s", "p50", "p99", "CPU us/req", "server CPU", "fc/peer req/s",
           "fc/peer CPU/req"]
NOISY_PCT = 10.0        # other processes' share of the two cores that taints a result


def _us(value: float) -> str:
    return f"{value / 1000:.2f} ms" if value >= 10_000 else f"{value:.0f} us"


def rows(results: Results, scenario: str) -> list[list[str]]:
    by_peer = results.get(scenario, {})
    fastcore = by_peer.get("fastcore")
    out = []
    for name, m in by_peer.items():
        if not m.ok:
            out.append([name, f"{m.status}: {m.reason}"])
            continue
        r = ratios(fastcore, m) if fastcore is not None and name != "fastcore" else {}
        note = f" (others {m.others_pct:.0f}%)" if m.others_pct > NOISY_PCT else ""
        if m.reason:
            name += " *"            # a note below the table
        out.append([name, f"{m.rps:,.0f}", _us(m.p50_us), _us(m.p99_us), f"{m.cpu_us:.2f}",
                    f"{m.server_cpu_pct:.0f}%{note}",
                    f"{r['rps']:.2f}x" if "rps" in r else "",
                    f"{r['cpu_us']:.2f}x" if "cpu_us" in r else ""])
    return out


def notes(results: Results, scenario: str) -> list[str]:
    """What a measured peer did that the numbers alone do not show."""
    return [f"* {name}: {m.reason}" for name, m in results.get(scenario, {}).items()
            if m.ok and m.reason]


def text_table(results: Results, scenario: str) -> str:
    body = rows(results, scenario)
    full = [r for r in body if len(r) == len(COLUMNS)]
    widths = [max(len(c), *(len(r[i]) for r in full)) if full else len(c)
              for i, c in enumerate(COLUMNS)]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                       enumerate(zip(COLUMNS, widths, strict=True)))]
    for r in body:
        if len(r) == len(COLUMNS):
            lines.append("  ".join(c.rjust(w) if i else c.ljust(w)
                                   for i, (c, w) in enumerate(zip(r, widths, strict=True))))
        else:
            lines.append(f"{r[0].ljust(widths[0])}  {r[1]}")
    return "\n".join(lines + notes(results, scenario))


def markdown_table(results: Results, scenario: str) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    for r in rows(results, scenario):
        if len(r) < len(COLUMNS):
            r = [r[0], r[1].replace("|", "/")] + [""] * (len(COLUMNS) - 2)
        lines.append("| " + " | ".join(r) + " |")
    extra = notes(results, scenario)
    return "\n".join(lines + ([""] + extra if extra else []))


@dataclass(frozen=True)
class Target:
    scenario: str
    peer: str
    metric: str          # rps or cpu_us
    bound: float
    text: str

    def check(self, results: Results) -> tuple[str, str]:
        """(verdict, detail): PASS, FAIL or N/A, and the measured ratio."""
        fc = results.get(self.scenario, {}).get("fastcore")
        peer = results.get(self.scenario, {}).get(self.peer)
        if fc is None or peer is None:
            return "N/A", "not run"
        if not fc.ok or not peer.ok:
            which = fc if not fc.ok else peer
            return "N/A", f"{which.peer} {which.status}: {which.reason}"
        r = ratios(fc, peer)
        ratio, best = r[self.metric], r["best_" + self.metric]
        good = ratio >= self.bound if self.metric == "rps" else ratio <= self.bound
        return ("PASS" if good else "FAIL"), f"{ratio:.2f}x (best runs: {best:.2f}x)"


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
]


def target_lines(results: Results) -> list[tuple[str, str, str]]:
    return [(t.text, *t.check(results)) for t in TARGETS
            if t.scenario in results]
