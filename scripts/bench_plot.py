#!/usr/bin/env python3
"""Plot a benchmark JSON written by scripts/bench.py.

    bench_plot.py BENCH.json [OUT.png]

One row per scale: the commands' times (tmpfs, floor, wffs; cold and warm; log scale), and the backup's
milliseconds per file against the ecflow_client way.
"""

from __future__ import annotations

import json
import sys

COMMANDS = ("find", "find_abo", "ls_lR", "grep", "tar", "backup")
LABELS = {"find": "find", "find_abo": "find -name\n'*.abo'", "ls_lR": "ls -lR", "grep": "grep -r\nERROR",
          "tar": "tar | wc", "backup": "backup\n(.ecf+.out)"}
SERIES = [("tmpfs", "cold", "tmpfs", "#4c9a2a"), ("floor", "cold", "floor cold", "#8fb0d8"),
          ("floor", "warm", "floor warm", "#c9d9ee"), ("wffs", "cold", "wffs cold", "#d9822b"),
          ("wffs", "warm", "wffs warm", "#f2c08f")]


def plot(doc: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = doc["results"]
    if not results:
        raise ValueError("no results to plot")
    fig, axes = plt.subplots(len(results), 2, figsize=(15, 4.8 * len(results)), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1.3]})
    for row, r in zip(axes, results):
        ax = row[0]
        width = 0.8 / len(SERIES)
        for i, (backend, phase, label, color) in enumerate(SERIES):
            values = []
            for name in COMMANDS:
                e = r.get("commands", {}).get(backend, {}).get(name)
                values.append(e[phase]["seconds"] if e else 0)
            xs = [c + (i - (len(SERIES) - 1) / 2) * width for c in range(len(COMMANDS))]
            ax.bar(xs, values, width, label=label, color=color, edgecolor="#555", linewidth=0.4)
        client = r.get("client", {})
        if client.get("aborted"):
            ax.hlines(client["aborted"]["median"], 1 - 0.45, 1 + 0.45, colors="#b22", linestyles="--",
                      label="ecflow_client --get_state | grep")
        ax.set_xticks(range(len(COMMANDS)))
        ax.set_xticklabels([LABELS[n] for n in COMMANDS])
        ax.set_yscale("log")
        ax.set_ylabel("seconds (log)")
        tree = r.get("tree", {})
        ax.set_title(f"{r['scale']}: {r['tasks']} tasks, {tree.get('files', '?')} files - wall clock")
        ax.legend(fontsize=8, ncol=2)
        ax.grid(axis="y", which="both", alpha=0.3)

        ax = row[1]
        nfiles = tree.get("scripts", 0) + tree.get("outputs", 0)
        bars = []
        if client.get("cli_per_file"):
            bars.append(("ecflow_client\nper file, cold", client["cli_per_file"]["ms_per_file"], "#b22"))
        if client.get("python_get_file"):
            bars.append(("get_file\nloop, cold", client["python_get_file"]["ms_per_file"], "#e88"))
        for backend, phase, label, color in SERIES:
            e = r.get("commands", {}).get(backend, {}).get("backup")
            if e and nfiles:
                bars.append((label.replace(" ", "\n"), 1000 * e[phase]["seconds"] / nfiles, color))
        ax.bar(range(len(bars)), [b[1] for b in bars], color=[b[2] for b in bars], edgecolor="#555", linewidth=0.4)
        for x, b in enumerate(bars):
            ax.text(x, b[1], f"{b[1]:.3g}", ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([b[0] for b in bars], fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("ms per file (log)")
        ax.set_title(f"backup of {nfiles} scripts + outputs")
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        doc = json.load(f)
    out = argv[1] if len(argv) > 1 else argv[0].rsplit(".", 1)[0] + ".png"
    plot(doc, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
