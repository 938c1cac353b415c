#!/usr/bin/env python3
"""The cost of a learning-rate distribution, counted in instructions (issue 6: one rate
for all depths vs one rate per depth, target <= 2 %).

Wall-clock benches cannot resolve 2 % on a VM whose speed drifts by tens of per cent
between minutes (see README, "Performance"). This runs the example
`crates/bench/examples/distribution_cost.rs` under valgrind's callgrind once per variant
(`one_rate`, `per_depth`; both processes at once) and counts the instructions executed
inside its `counted_steps` (one training step of a MiniLM-L6-shaped BERT on a 4x16
batch, one intra-op thread, after a warm-up step; small batches are the strict case, see
the example's doc). Callgrind's counts do not depend on
the machine's speed or load. Prints the counts and their ratio and writes them with the
commands to --out. Run it through `make bench-distribution`.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from pathlib import Path

from bench_report import write_report

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = ("one_rate", "per_depth")
TARGET = 0.02


def callgrind_command(example: Path, variant: str, out: Path) -> list[str]:
    return [
        "valgrind", "--tool=callgrind", "--collect-atstart=no", "--toggle-collect=*counted_steps*",
        f"--callgrind-out-file={out}", str(example), variant,
    ]


def instructions(out: Path) -> int:
    """Total instructions ('Ir') recorded in a callgrind output file."""
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise SystemExit(f"{out}: no summary line; did callgrind finish?")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--example", type=Path, default=ROOT / "target/release/examples/distribution_cost")
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/distribution.json")
    args = p.parse_args()
    if not args.example.is_file():
        raise SystemExit(f"{args.example} not found: cargo build --release -p lrdist-bench --example distribution_cost")

    with tempfile.TemporaryDirectory() as tmp:
        outs = {v: Path(tmp) / f"{v}.callgrind" for v in VARIANTS}
        commands = {v: callgrind_command(args.example, v, outs[v]) for v in VARIANTS}
        print("==> counting instructions under callgrind (a few minutes)", flush=True)
        procs = {v: subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for v, c in commands.items()}
        for v, proc in procs.items():
            log, _ = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(commands[v])} failed ({proc.returncode}):\n{log[-2000:]}")
        counts = {v: instructions(outs[v]) for v in VARIANTS}

    ratio = counts["per_depth"] / counts["one_rate"]
    lines = [
        "| variant | instructions of one training step (4x16, 1 thread) |",
        "|---|---:|",
        *(f"| {v} | {counts[v]:,} |" for v in VARIANTS),
        "",
        f"- per_depth / one_rate = {ratio:.6f} ({100 * (ratio - 1):+.4f} %; target <= {100 * TARGET:.0f} %)",
    ]
    table = "\n".join(lines)
    print(table)
    write_report(args.out, "Performance: the cost of distributions (one rate vs one rate per depth)", {
        "callgrind_commands": commands,
        "instructions": counts,
        "ratio_per_depth_over_one_rate": ratio,
        "target_max_ratio": 1 + TARGET,
        "met": ratio <= 1 + TARGET,
        "markdown": table,
    })


if __name__ == "__main__":
    main()
