"""Side by side, in one run: fastcore against its peers on Hello World
keep-alive (wrk -t1 -c64) and 16-deep pipelining, N runs each, medians.

    python -m benchmarks.compare [--seconds 3] [--runs 5] [--peers fastcore,nginx]
                                 [--scenarios hello,pipeline16] [--baseline REF]
                                 [--json out.json] [--check]

--baseline REF also runs fastcore built at git ref REF, as peer
fastcore@REF, next to fastcore in every scenario (before and after).
--check exits 1 when a team target is missed (see tables.TARGETS).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys

from benchmarks import machine, peers, runner, scenarios, tables
from benchmarks.peers import BY_NAME, PEERS


def make_parser(description: str, scenarios_: str, seconds: float,
                runs: int) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=seconds, help="length of one run")
    parser.add_argument("--runs", type=int, default=runs, help="runs per peer; medians are kept")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of unmeasured load first")
    parser.add_argument("--peers", default=",".join(p.name for p in PEERS))
    parser.add_argument("--scenarios", default=scenarios_)
    parser.add_argument("--baseline", metavar="REF",
                        help="also run fastcore built at this git ref, as fastcore@REF")
    parser.add_argument("--json", help="also write every measurement to this file")
    return parser


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    args = parser.parse_args(argv)
    try:
        args.peers = [BY_NAME[n] for n in args.peers.split(",")]
        args.scenarios = [scenarios.BY_NAME[n] for n in args.scenarios.split(",")]
    except KeyError as exc:
        parser.error(f"unknown peer or scenario {exc}; peers: {', '.join(BY_NAME)}; "
                     f"scenarios: {', '.join(scenarios.BY_NAME)}")
    if "fastcore" not in [p.name for p in args.peers]:
        parser.error("fastcore must be among the peers: every ratio is fastcore / peer")
    args.peers = peers.with_baseline(args.peers, args.baseline)
    return args


def run_all(args: argparse.Namespace, progress=print) -> tables.Results:
    """Every peer in every scenario, `runs` times. The runs are interleaved
    (round 1 of every peer, then round 2, ...), each with a fresh server, so
    a slow drift of the machine's load hits all peers alike and the ratios
    stay fair."""
    docroot = scenarios.make_docroot()
    results: tables.Results = {}
    try:
        for scenario in args.scenarios:
            present = [p for p in args.peers if p.serves(scenario)]
            parts: dict[str, list[runner.Measurement]] = {p.name: [] for p in present}
            for round_ in range(1, args.runs + 1):
                for peer in present:
                    if parts[peer.name] and not parts[peer.name][-1].ok:
                        continue            # skipped or failed once: not retried
                    m = runner.measure(peer, scenario, docroot, args.seconds, 1, args.warmup)
                    parts[peer.name].append(m)
                    shown = (f"{m.rps:,.0f} req/s, {m.cpu_us:.2f} us/req" if m.ok
                             else f"{m.status}: {m.reason[:100]}")
                    progress(f"  {scenario.name:<11} run {round_}/{args.runs}  "
                             f"{peer.name:<12} {shown}")
            results[scenario.name] = {name: runner.combine(ms) for name, ms in parts.items()}
    finally:
        shutil.rmtree(docroot, ignore_errors=True)
    return results


def print_results(results: tables.Results, args: argparse.Namespace) -> None:
    for scenario in args.scenarios:
        s = scenario
        print(f"\n## {s.name}: {s.title} (-c{s.connections}, {args.seconds:g} s x {args.runs}, "
              "medians)")
        if s.depth > 1:
            print(f"   latency is per batch of {s.depth} requests (wrk times a whole write)")
        print(tables.text_table(results, s.name))
    if args.baseline:
        print(f"\n## fastcore against fastcore@{args.baseline} (fc/base: this tree / baseline)")
        print(tables.render_text(tables.BASELINE_COLUMNS,
                                 tables.baseline_rows(results, f"fastcore@{args.baseline}")))
    lines = tables.target_lines(results)
    if lines:
        print("\nTargets (ratios fastcore / peer):")
        for text, verdict, detail in lines:
            print(f"  {verdict:<4}  {text}: {detail}")


def dump_json(path: str, results: tables.Results, args: argparse.Namespace) -> None:
    data = {"machine": machine.describe(), "versions": machine.versions(args.peers),
            "results": {s: {p: dataclasses.asdict(m) for p, m in by.items()}
                        for s, by in results.items()}}
    with open(path, "w") as f:
        json.dump(data, f, indent=1)


def main(argv: list[str] | None = None) -> int:
    parser = make_parser(__doc__.split("\n\n")[0], "hello,pipeline16", seconds=3.0, runs=5)
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parse_args(parser, argv)
    for key, value in machine.describe().items():
        print(f"{key}: {value}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in machine.versions(args.peers).items()))
    results = run_all(args)
    print_results(results, args)
    if args.json:
        dump_json(args.json, results, args)
    if args.check and any(v == "FAIL" for _, v, _ in tables.target_lines(results)):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
