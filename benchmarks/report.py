"""Run the load scenarios and write benchmarks/results/: results.md (the
tables, machine, versions, date), results.png (bar charts) and
results.json (every measurement).

    python -m benchmarks.report [--seconds 3] [--runs 3] [--scenarios ...] [--peers ...]
                                [--baseline REF] [--out benchmarks/results]
"""

from __future__ import annotations

import os
import sys

from benchmarks import compare, machine, scenarios, tables

HERE = os.path.dirname(os.path.abspath(__file__))


def markdown(results: tables.Results, args) -> str:
    info, versions = machine.describe(), machine.versions(args.peers)
    out = ["# fastcore benchmark results", "",
           f"Measured {info['date']} with `python -m benchmarks.report --seconds {args.seconds:g} "
           f"--runs {args.runs}`: each number is the median of {args.runs} runs of "
           f"{args.seconds:g} s after {args.warmup:g} s of warm-up. Ratios are fastcore / peer: "
           "above 1 is better for req/s, below 1 is better for CPU time per request. "
           "Peak RSS is the sum of VmHWM over the server's processes, reset at the start "
           "of each run. See benchmarks/README.md for what each column means.", "",
           "| machine | |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out += ["", "| server | version |", "| --- | --- |"]
    out += [f"| {k} | {v} |" for k, v in versions.items()]
    for s in args.scenarios:
        out += ["", f"## {s.name}: {s.title}", ""]
        if s.depth > 1:
            out += [f"Latency is per batch of {s.depth} requests.", ""]
        out.append(tables.markdown_table(results, s.name))
    if args.baseline:
        out += ["", f"## fastcore against fastcore@{args.baseline}", "",
                "Before and after: fc/base is this tree / the baseline, measured in the "
                "same run.", "",
                tables.render_markdown(tables.BASELINE_COLUMNS,
                                       tables.baseline_rows(results,
                                                            f"fastcore@{args.baseline}"))]
    lines = tables.target_lines(results)
    if lines:
        out += ["", "## Targets", "", "| target | result | fastcore / peer |",
                "| --- | --- | --- |"]
        out += [f"| {text} | {verdict} | {detail} |" for text, verdict, detail in lines]
    return "\n".join(out) + "\n"


def chart(results: tables.Results, args, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")            # no display on a server or in CI
    import matplotlib.pyplot as plt

    names = [s.name for s in args.scenarios]
    # Only peers measured somewhere: variants that are unsupported everywhere
    # (features not there yet) would only crowd the legend.
    peers = [p.name for p in args.peers
             if any(m.ok for by in results.values() for n, m in by.items() if n == p.name)]
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 1.6 * len(names)), 9), sharex=True)
    width = 0.8 / len(peers)
    for metric, ax, label in ((lambda m: m.rps, axes[0], "requests/s (log)"),
                              (lambda m: m.cpu_us, axes[1], "server CPU us/request (log)")):
        for i, peer in enumerate(peers):
            xs, ys = [], []
            for j, name in enumerate(names):
                m = results.get(name, {}).get(peer)
                if m is not None and m.ok:
                    xs.append(j + (i - (len(peers) - 1) / 2) * width)
                    ys.append(metric(m))
            ax.bar(xs, ys, width, label=peer)
        ax.set_yscale("log")
        ax.set_ylabel(label)
        ax.grid(axis="y", which="both", alpha=0.3)
    axes[0].set_title(f"fastcore and peers, {machine.cpu_model()} "
                      f"(server on one core, wrk on another)")
    axes[0].legend(ncol=4, fontsize="small")
    axes[1].set_xticks(range(len(names)), names)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = compare.make_parser(__doc__.split("\n\n")[0],
                                 ",".join(s.name for s in scenarios.SCENARIOS),
                                 seconds=3.0, runs=3)
    parser.add_argument("--out", default=os.path.join(HERE, "results"),
                        help="directory for results.md, results.png, results.json")
    args = compare.parse_args(parser, argv)
    out = args.out
    os.makedirs(out, exist_ok=True)
    results = compare.run_all(args)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown(results, args))
    compare.dump_json(os.path.join(out, "results.json"), results, args)
    if args.json:
        compare.dump_json(args.json, results, args)
    chart(results, args, os.path.join(out, "results.png"))
    print(f"wrote {out}/results.md, results.png, results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
