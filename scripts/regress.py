#!/usr/bin/env python3
"""A refactor changes no number: re-run fixed-seed commands and require identical scores.

Two kinds of case:
  * `run` cases re-run committed run records of results/runs/ (one thread, the record's
    config, method, scale and seed) and compare the accuracy matrix and every metric with
    the committed record, bit for bit (JSON floats round-trip exactly);
  * `finetune` cases re-run `lrdist finetune` commands whose outputs were recorded in
    results/regress/finetune.jsonl (`--record` writes that file from the current binary).

Usage:  scripts/regress.py --lrdist target/release/lrdist [--record] [--only NAME]
Exit 0 when every case matches, 1 when one differs (each difference is printed).
Recorded finetune outputs (losses, STS-B's Pearson) need not hold bit for bit on another
machine: those recorded by 3d21c1d differed in the 8th digit in a later session, from a
binary whose run cases still matched (likely cause, not verified: libtorch's CPU kernels;
each row now records its CPU). To check a change, record with the binary of the commit
before it on the same machine, then run the changed one.
`make regress` runs it. Each case prints its wall time; the whole set takes ~5 minutes on
one thread.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FINETUNE_FILE = ROOT / "results" / "regress" / "finetune.jsonl"

# (record file, method, seed): committed quick-scale runs covering the flat path, a
# penalty applied from stage 1 (L2-SP), the Fisher of EWC, a searched distribution, the
# length and embedding shifts.
RUN_CASES = [
    ("length_shift_sst2", "flat", 0),
    ("length_shift_sst2", "l2sp", 0),
    ("length_shift_sst2", "ewc", 1),
    ("length_shift_sst2", "combined", 1),
    ("embedding_shift_sst2", "llrd", 0),
]

# name -> finetune arguments (one thread is added).
FINETUNE_CASES = {
    "sst2-flat": ["--task", "sst2", "--max-train", "400", "--max-dev", "200", "--epochs", "1"],
    "stsb-llrd": ["--task", "stsb", "--max-train", "300", "--max-dev", "100", "--epochs", "1",
                  "--distribution", "llrd:1e-4:0.8"],
}

# Fields of a finetune report that must match exactly (the rest are timings and paths).
FINETUNE_FIELDS = ("task", "metrics", "train_rows", "dev_rows", "loss_per_epoch")


def committed(file: str, method: str, seed: int) -> dict:
    path = ROOT / "results" / "runs" / f"{file}.jsonl"
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        if r["method"] == method and r["seed"] == seed and r["scale"] == "quick":
            return r
    raise SystemExit(f"{path}: no quick record of {method} seed {seed}")


# Fields of a run record that must match exactly (also scripts/bench_heap.py's check).
RUN_SCORE_FIELDS = ("matrix", "metrics", "a1", "p_s", "p_o")


def run_command(lrdist: str, file: str, method: str, seed: int, out: Path,
                results: Path) -> list[str]:
    """The one-thread quick-scale `lrdist run` of a run case, its record written to `out`."""
    return [lrdist, "run", "--config", f"experiments/{file}.yaml", "--method", method,
            "--seed", str(seed), "--scale", "quick", "--threads", "1", "-q",
            "--record", str(out), "--results", str(results)]


def run_case(lrdist: str, file: str, method: str, seed: int) -> list[str]:
    ref = committed(file, method, seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.jsonl"
        cmd = run_command(lrdist, file, method, seed, out, Path(tmp) / "results")
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        new = json.loads(out.read_text().splitlines()[0])
    diffs = []
    for key in RUN_SCORE_FIELDS:
        if new[key] != ref[key]:
            diffs.append(f"{key}: committed {ref[key]} now {new[key]}")
    if new["distribution"]["per_depth"] != ref["distribution"]["per_depth"]:
        diffs.append("rates differ")
    return diffs


def cpu() -> str:
    """The CPU model and its widest vector extension, recorded beside each finetune output
    (libtorch may pick other kernels on another CPU)."""
    model, flags = "unknown", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    simd = next((f for f in ("avx512f", "avx2", "avx", "sse4_2") if f in flags), "none")
    return f"{model} ({simd})"


def finetune(lrdist: str, args: list[str]) -> dict:
    cmd = [lrdist, "finetune", *args, "--threads", "1", "-q"]
    out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lrdist", default=str(ROOT / "target" / "release" / "lrdist"))
    ap.add_argument("--record", action="store_true",
                    help="write results/regress/finetune.jsonl from this binary")
    ap.add_argument("--only", help="run only the case whose name contains this")
    a = ap.parse_args()

    if a.record:
        FINETUNE_FILE.parent.mkdir(parents=True, exist_ok=True)
        # A pinned binary's name carries its commit (.cache/bin/lrdist-<commit>).
        binary = Path(a.lrdist).name
        rows = []
        for name, args in FINETUNE_CASES.items():
            rep = finetune(a.lrdist, args)
            rows.append({"case": name, "args": args, "binary": binary, "cpu": cpu(),
                         **{k: rep[k] for k in FINETUNE_FIELDS}})
            print(f"recorded {name}")
        # Written only once every case ran: a failed case leaves the old file as it was.
        FINETUNE_FILE.write_text("".join(json.dumps(row) + "\n" for row in rows))
        return 0

    failed = 0
    expected = {}
    if FINETUNE_FILE.exists():
        for line in FINETUNE_FILE.read_text().splitlines():
            row = json.loads(line)
            expected[row["case"]] = row
    cases = [(f"run {f} {m} s{s}", lambda f=f, m=m, s=s: run_case(a.lrdist, f, m, s))
             for f, m, s in RUN_CASES]
    for name, args in FINETUNE_CASES.items():
        def check(name=name, args=args):
            if name not in expected:
                return [f"no recorded output in {FINETUNE_FILE} (run with --record)"]
            rep = finetune(a.lrdist, args)
            diffs = [f"{k}: recorded {expected[name][k]} now {rep[k]}"
                     for k in FINETUNE_FIELDS if rep[k] != expected[name][k]]
            was = expected[name].get("cpu", "not recorded")
            if diffs and was != cpu():
                diffs.append(f"recorded on CPU {was}, now on {cpu()}: outputs may differ "
                             "by CPU; record with the commit before your change here")
            return diffs
        cases.append((f"finetune {name}", check))
    for name, check in cases:
        if a.only and a.only not in name:
            continue
        start = time.time()
        diffs = check()
        status = "identical" if not diffs else "DIFFERS"
        print(f"{name}: {status} ({time.time() - start:.0f} s)")
        for d in diffs:
            print(f"  {d}")
        failed += bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
