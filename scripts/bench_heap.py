#!/usr/bin/env python3
"""The heap settings, measured: wall time, CPU time, minor page faults and peak memory of
fixed-seed runs with glibc's default heap (`LRDIST_TOP_PAD=off`), with lrdist's 1 GiB top
pad alone (glibc's `MALLOC_MMAP_MAX_` set to its default), and with the pad and no `mmap`
blocks (lrdist's default, crates/app/src/heap.rs), and whether their scores are identical.

Each case is a committed quick-scale run of results/runs/ (one thread): flat, L2-SP and
EWC on the length shift of SST-2, run as `make regress` runs them (scripts/regress.py).
For every case and repeat the settings run one after the other (glibc's default first), so
a background load that changes slowly weighs on all alike; the load average at each start
is recorded. CPU seconds and page faults do not depend on the load.

Prints a Markdown table (seconds, CPU seconds, faults, peak RSS, speed-up, scores
identical) and writes it with
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
# Each setting is the environment it adds; lrdist's own heap variables are removed first.
SETTINGS = {
    "glibc default (LRDIST_TOP_PAD=off)": {"LRDIST_TOP_PAD": "off"},
    "top pad only (MALLOC_MMAP_MAX_=65536)": {"MALLOC_MMAP_MAX_": "65536"},
    "top pad, no mmap (lrdist default)": {},
}
HEAP_VARS = ("LRDIST_TOP_PAD", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_", "GLIBC_TUNABLES")


def run(lrdist: str, case: tuple[str, str, int], setting: dict[str, str], tmp: Path) -> dict:
    file, method, seed = case
    out = tmp / "run.jsonl"
    out.unlink(missing_ok=True)
    command = run_command(lrdist, file, method, seed, out, tmp / "results")
    env = {k: v for k, v in os.environ.items() if k not in HEAP_VARS} | setting
    load = os.getloadavg()[0]
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}")
    record = json.loads(out.read_text().splitlines()[0])
    return {"command": command, "env": setting, "load_at_start": load,
            "seconds": seconds, "user_seconds": usage.ru_utime, "system_seconds": usage.ru_stime,
            "minor_faults": usage.ru_minflt, "peak_rss_mb": usage.ru_maxrss / 1024,
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
                    print(f"{rows[-1]['case']:<28} {label:<38} {m['seconds']:7.1f} s "
                          f"cpu {m['user_seconds'] + m['system_seconds']:6.1f} s "
                          f"faults {m['minor_faults']:>9} {m['peak_rss_mb']:6.0f} MB "
                          f"(load {m['load_at_start']:.1f})",
                          flush=True)

    table = ["| case | setting | seconds (mean) | CPU seconds (user + system) | minor faults "
             "| peak RSS MB | speed-up | scores identical |",
             "|---|---|---|---|---|---|---|---|"]
    summary = []
    for case in dict.fromkeys(r["case"] for r in rows):
        per = [[r for r in rows if r["case"] == case and r["setting"] == s] for s in SETTINGS]
        base = sum(r["seconds"] for r in per[0]) / len(per[0])
        same = all(r["scores"] == per[0][0]["scores"] for rs in per for r in rs)
        for label, rs in zip(SETTINGS, per):
            secs = sum(r["seconds"] for r in rs) / len(rs)
            cpu = sum(r["user_seconds"] + r["system_seconds"] for r in rs) / len(rs)
            sys_ = sum(r["system_seconds"] for r in rs) / len(rs)
            faults = sum(r["minor_faults"] for r in rs) / len(rs)
            rss = max(r["peak_rss_mb"] for r in rs)
            summary.append({"case": case, "setting": label, "seconds": secs, "cpu_seconds": cpu,
                            "system_seconds": sys_, "minor_faults": faults,
                            "peak_rss_mb": rss, "speedup": base / secs, "identical": same})
            table.append(f"| {case} | {label} | {secs:.1f} | {cpu:.1f} ({sys_:.1f} system) "
                         f"| {faults:,.0f} | {rss:.0f} | {base / secs:.2f}x "
                         f"| {'yes' if same else 'NO'} |")
    print("\n".join(["", *table]))
    write_report(a.out, "Performance: the heap settings (EWC and L2-SP)",
                 {"cases": summary, "table": table, "runs": rows,
                  "note": "load_at_start: 1-minute load average when the run started; "
                          "other processes on the machine slow the settings alike only "
                          "if the load stays the same"})
    return 0 if all(s["identical"] for s in summary) else 1


if __name__ == "__main__":
    raise SystemExit(main())
