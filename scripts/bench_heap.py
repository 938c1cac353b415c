#!/usr/bin/env python3
"""The heap's top pad, measured: wall time and peak memory of fixed-seed runs with glibc's
default heap (`LRDIST_TOP_PAD=off`) and with lrdist's 1 GiB top pad (the default,
crates/app/src/heap.rs), and whether their scores are identical.

Each case is a committed quick-scale run of results/runs/ (one thread): flat, L2-SP and
EWC on the length shift of SST-2, run as `make regress` runs them (scripts/regress.py). For every case and
repeat the two settings run one after the other (off first), so a background load that
changes slowly weighs on both alike; the load average at each start is recorded.

Prints a Markdown table (seconds, peak RSS, speed-up, scores identical) and writes it with
every command and measurement to --out. Run it through `make bench-heap`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from bench_report import write_report
from regress import RUN_SCORE_FIELDS, run_command

ROOT = Path(__file__).resolve().parent.parent
CASES = [("length_shift_sst2", "flat", 0), ("length_shift_sst2", "l2sp", 0),
         ("length_shift_sst2", "ewc", 1)]
SETTINGS = {"glibc default (LRDIST_TOP_PAD=off)": "off", "top pad 1 GiB (lrdist default)": None}


def run(lrdist: str, case: tuple[str, str, int], top_pad: str | None, tmp: Path) -> dict:
    file, method, seed = case
    out = tmp / "run.jsonl"
    out.unlink(missing_ok=True)
    command = run_command(lrdist, file, method, seed, out, tmp / "results")
    env = {k: v for k, v in os.environ.items() if k not in ("LRDIST_TOP_PAD", "MALLOC_TOP_PAD_")}
    if top_pad is not None:
        env["LRDIST_TOP_PAD"] = top_pad
    load = os.getloadavg()[0]
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    record = json.loads(out.read_text().splitlines()[0])
    return {"command": command, "LRDIST_TOP_PAD": top_pad, "load_at_start": load,
            "seconds": seconds, "peak_rss_mb": usage.ru_maxrss / 1024,
            "scores": {k: record[k] for k in RUN_SCORE_FIELDS}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lrdist", default=str(ROOT / "target" / "release" / "lrdist"))
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "bench" / "heap.json")
    a = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            for repeat in range(a.repeats):
                for label, value in SETTINGS.items():
                    m = run(a.lrdist, case, value, Path(tmp))
                    rows.append({"case": " ".join(map(str, case)), "setting": label,
                                 "repeat": repeat, **m})
                    print(f"{rows[-1]['case']:<28} {label:<36} {m['seconds']:7.1f} s "
                          f"{m['peak_rss_mb']:7.0f} MB (load {m['load_at_start']:.1f})",
                          flush=True)

    table = ["| case | setting | seconds (mean) | peak RSS MB | speed-up | scores identical |",
             "|---|---|---|---|---|---|"]
    summary = []
    for case in dict.fromkeys(r["case"] for r in rows):
        off, pad = ([r for r in rows if r["case"] == case and r["setting"] == s] for s in SETTINGS)
        base = sum(r["seconds"] for r in off) / len(off)
        same = all(r["scores"] == off[0]["scores"] for r in off + pad)
        for label, rs in zip(SETTINGS, (off, pad)):
            secs = sum(r["seconds"] for r in rs) / len(rs)
            rss = max(r["peak_rss_mb"] for r in rs)
            summary.append({"case": case, "setting": label, "seconds": secs,
                            "peak_rss_mb": rss, "speedup": base / secs, "identical": same})
            table.append(f"| {case} | {label} | {secs:.1f} | {rss:.0f} | {base / secs:.2f}x "
                         f"| {'yes' if same else 'NO'} |")
    print("\n".join(["", *table]))
    write_report(a.out, "Performance: the heap's top pad (EWC and L2-SP)",
                 {"cases": summary, "table": table, "runs": rows,
                  "note": "load_at_start: 1-minute load average when the run started; "
                          "other processes on the machine slow both settings alike only "
                          "if the load stays the same"})
    return 0 if all(s["identical"] for s in summary) else 1


if __name__ == "__main__":
    raise SystemExit(main())
