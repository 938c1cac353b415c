"""The JSON report each bench script writes to its --out: what it measured, when, by which
command and on which machine, with the script's own fields after those."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
from pathlib import Path


def write_report(out: Path, issue: str, fields: dict, machine: dict | None = None) -> None:
    report = {
        "issue": issue,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": [sys.executable, *sys.argv],
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), **(machine or {})},
        **fields,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n==> wrote {out}")
