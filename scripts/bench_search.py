#!/usr/bin/env python3
"""Search throughput, one run: trials per hour of a quick-scale search with and without
successive halving (ASHA) and with and without the stage-1 cache (issue 6, "Search
throughput").

Runs four fresh studies of `lrdist search` one after the other on the same scenario,
scale, sampler seed and trial count, each in its own temporary folder (own SQLite store,
own empty stage-1 cache, so the cached variants pay for their one stage-1 run):

  paper         ASHA on,  distribution on both stages (the paper's search)
  no-asha       ASHA off (--no-asha), every trial runs all stage-2 epochs
  cache         ASHA on,  --stage2-only (stage 1 flat, trained once and cached)
  no-asha+cache ASHA off, --stage2-only

Prints a Markdown table (trials, pruned, seconds, trials per hour, speed-up over the
paper's search) and writes it with the commands and the per-trial timings to --out.
Run it through `make bench-search`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

from bench_report import write_report

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "paper": [],
    "no-asha": ["--no-asha"],
    "cache": ["--stage2-only"],
    "no-asha+cache": ["--no-asha", "--stage2-only"],
}


def trial_states(store: Path) -> list[tuple[int, str]]:
    """(number, state) of every trial in the study's SQLite store."""
    with sqlite3.connect(store) as db:
        return [(n, s) for n, s in db.execute("SELECT number, state FROM trials ORDER BY number")]


def run_variant(name: str, flags: list[str], args: argparse.Namespace, tmp: Path) -> dict:
    folder = tmp / name.replace("+", "_")
    folder.mkdir()
    store = folder / "study.sqlite"
    command = [
        str(args.lrdist), "search",
        "--config", str(args.config),
        "--scale", args.scale,
        "--trials", str(args.trials),
        "--seed", str(args.seed),
        "--study", str(store),
        "--results", str(folder / "results"),
        "--quiet",
        *flags,
    ]  # fmt: skip
    env = {**os.environ, "LRDIST_CACHE": str(folder / "cache")}
    print(f"==> {name}: {' '.join(command)}", flush=True)
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{name}: lrdist search exited {proc.returncode}")
    states = trial_states(store)
    finished = [s for _, s in states if s in ("complete", "pruned", "failed")]
    per_hour = len(finished) / (seconds / 3600.0)
    print(f"    {len(finished)} trials in {seconds:.0f} s: {per_hour:.1f} trials/hour", flush=True)
    return {
        "command": command,
        "flags": flags,
        "seconds": seconds,
        "trials": len(finished),
        "pruned": sum(1 for s in finished if s == "pruned"),
        "failed": sum(1 for s in finished if s == "failed"),
        "trials_per_hour": per_hour,
    }


def markdown(results: dict[str, dict], args: argparse.Namespace) -> str:
    base = results["paper"]["trials_per_hour"] if "paper" in results else None
    lines = [
        f"{args.config.name}, {args.scale} scale, {args.trials} trials per variant, GP sampler seed {args.seed}, "
        f"{os.cpu_count()} CPU threads",
        "",
        "| variant | ASHA | stage-1 cache | trials | pruned | seconds | trials/hour | vs paper's search |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        asha = "off" if "--no-asha" in r["flags"] else "on"
        cache = "on" if "--stage2-only" in r["flags"] else "off"
        ratio = f"{r['trials_per_hour'] / base:.2f}x" if base else "-"
        lines.append(
            f"| {name} | {asha} | {cache} | {r['trials']} | {r['pruned']} | {r['seconds']:.0f} "
            f"| {r['trials_per_hour']:.1f} | {ratio} |"
        )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lrdist", type=Path, default=ROOT / "target/release/lrdist")
    p.add_argument("--config", type=Path, default=ROOT / "experiments/sst2_mrpc.yaml")
    p.add_argument("--scale", default="quick")
    p.add_argument("--trials", type=int, default=4, help="trials per variant (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/search.json")
    args = p.parse_args()
    if not args.lrdist.is_file():
        raise SystemExit(f"{args.lrdist} not found: run `make build`")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.variants:
            results[name] = run_variant(name, VARIANTS[name], args, Path(tmp))
    table = markdown(results, args)
    print()
    print(table)
    write_report(args.out, "Performance: search throughput", {"variants": results, "markdown": table})


if __name__ == "__main__":
    main()
