#!/usr/bin/env python3
"""Peer comparison in interleaved rounds: lrdist against the Hugging Face transformers Trainer.

Fine-tunes the default model (all-MiniLM-L6-v2) on the same 2000 SST-2 train rows with the
same hyperparameters three ways, each in its own process, one after the other:

  lrdist     target/release/lrdist finetune ... --distribution flat:<lr>
  run_glue   transformers Trainer as run_glue.py runs it by default: every sequence
             padded to max_length=128
  dynamic    transformers Trainer with dynamic padding (DataCollatorWithPadding)

All three use the torch of the project venv (lrdist links its libtorch), on CPU with
torch.set_num_threads(os.cpu_count()), and are evaluated on the full SST-2 dev set
(872 rows). The train rows are the ones lrdist itself picks (`lrdist data sample`, a
label-stratified seeded sample), so every runner sees exactly the same data.

This VM's speed moves by up to +-30 % between minutes, so one run of each says little:
the runners go in --rounds interleaved rounds (default 3), each round running lrdist,
run_glue and dynamic in turn, with the fp32 matmul ceiling (`lrdist bench matmul`) read
before the first runner and after every runner. A run's share of the ceiling is its
training FLOP/s (model FLOPs of the batch shapes it ran, matrix products only, backward
= 2x forward; a transformers model runs every layer in full, lrdist's last layer only
the [CLS] query) over the higher of the two readings around it. Per runner the report
gives the median and the range (min-max) over the rounds of train samples/s and of the
share of the ceiling.

Prints a Markdown table (those medians and ranges, dev accuracy, seconds, speed ratios)
and writes the same, with every round's numbers, the commands, versions, date and CPU
count, as JSON (--out). Exits 1 when the dev accuracies of any two runs differ by more
than --tolerance (2 points), or when a run did not beat the majority-class rate by 5
points: a speed comparison between runs that did not learn the same thing says little.

Run it through `make bench-peer`, which builds lrdist and installs
scripts/requirements-peer.txt into the venv first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench_report import write_report

ROOT = Path(__file__).resolve().parent.parent
SST2_DEV_ROWS = 872
# A runner has learned when its dev accuracy beats always predicting the most frequent
# dev label by this much; below it, agreeing accuracies say nothing.
LEARNED_MARGIN = 0.05
RUNNERS = {
    "lrdist": "lrdist finetune, flat rate",
    "run_glue": "transformers Trainer, run_glue defaults (pad to max_length=128)",
    "dynamic": "transformers Trainer, dynamic padding (DataCollatorWithPadding)",
}
RATIOS = (("lrdist", "run_glue"), ("lrdist", "dynamic"))


@dataclass(frozen=True)
class Setup:
    """The hyperparameters every runner shares. lrdist's cosine schedule with 10% linear
    warm-up and AdamW without weight decay are matched by the Trainer's `cosine`
    scheduler with `warmup_steps=0.1` and `weight_decay=0`."""

    task: str = "sst2"
    train_rows: int = 2000
    epochs: int = 1
    batch_size: int = 32
    # Not the paper's 2e-5: MiniLM-L6's [CLS] was never trained for classification and in
    # 63 steps at 2e-5 no runner gets off the majority class (measured), which would make
    # the accuracy check meaningless. 1e-4 learns SST-2 in one epoch for all three.
    learning_rate: float = 1e-4
    weight_decay: float = 0.0
    warmup_fraction: float = 0.1
    schedule: str = "cosine"
    max_len: int = 128
    seed: int = 0
    eval_batch_size: int = 64


# --- data -------------------------------------------------------------------------------


def read_sst2_tsv(path: Path, header: bool) -> list[tuple[str, int]]:
    """Rows of an SST-2 style TSV (`sentence<TAB>label`); `header` says whether the first
    line is the `sentence<TAB>label` header, which is then checked and skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise SystemExit(f"cannot read {path}: {e.strerror} (set GLUE_DIR or --glue-dir)")
    if header:
        if not lines or lines[0].split("\t") != ["sentence", "label"]:
            raise SystemExit(f"{path}:1: expected the header 'sentence<TAB>label'")
        lines = lines[1:]
    rows = []
    for number, line in enumerate(lines, start=2 if header else 1):
        fields = line.split("\t")
        if len(fields) != 2 or fields[1] not in ("0", "1"):
            raise SystemExit(f"{path}:{number}: expected 'sentence<TAB>0|1', got {line!r}")
        rows.append((fields[0], int(fields[1])))
    return rows


def read_sample(path: Path) -> list[tuple[str, int]]:
    """The train rows written by `lrdist data sample` (a header line is optional)."""
    with open(path, encoding="utf-8") as f:
        first = f.readline().rstrip("\n")
    return read_sst2_tsv(path, header=first == "sentence\tlabel")


def read_dev(glue_dir: Path) -> list[tuple[str, int]]:
    path = glue_dir / "SST-2" / "dev.tsv"
    rows = read_sst2_tsv(path, header=True)
    if len(rows) != SST2_DEV_ROWS:
        raise SystemExit(f"{path}: {len(rows)} rows, expected {SST2_DEV_ROWS}")
    return rows


def majority_rate(rows: list[tuple[str, int]]) -> float:
    """Accuracy of always predicting the most frequent label."""
    return max(Counter(label for _, label in rows).values()) / len(rows)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- processes --------------------------------------------------------------------------


def run(command: list[str], env: dict[str, str]) -> str:
    """Run a command (its stderr goes to ours) and return its stdout."""
    print("   $ " + " ".join(command), flush=True)
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"exit code {done.returncode} from: {' '.join(command)}")
    return done.stdout


def last_json_line(stdout: str, command: list[str]) -> dict:
    lines = [line for line in stdout.splitlines() if line.strip()]
    if not lines:
        raise SystemExit(f"no output on stdout from: {' '.join(command)}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError as e:
        raise SystemExit(f"last stdout line is not JSON ({e}): {lines[-1]!r}\nfrom: {' '.join(command)}")


def short_float(x: float) -> str:
    """2e-05 -> 2e-5, as distributions are written on lrdist's command line."""
    return f"{x:g}".replace("e-0", "e-").replace("e+0", "e+")


# --- runners ----------------------------------------------------------------------------


def sample_with_lrdist(setup: Setup, lrdist: Path, out: Path, env: dict[str, str]) -> list[str]:
    """Have lrdist write the train rows it uses to `out`; returns the command."""
    command = [
        str(lrdist), "data", "sample",
        "--task", setup.task,
        "--max-train", str(setup.train_rows),
        "--seed", str(setup.seed),
        "--out", str(out),
    ]  # fmt: skip
    run(command, env)
    return command


def lrdist_command(setup: Setup, lrdist: Path) -> list[str]:
    return [
        str(lrdist), "finetune",
        "--task", setup.task,
        "--max-train", str(setup.train_rows),
        "--epochs", str(setup.epochs),
        "--batch-size", str(setup.batch_size),
        "--max-len", str(setup.max_len),
        "--seed", str(setup.seed),
        "--distribution", f"flat:{short_float(setup.learning_rate)}",
    ]  # fmt: skip


def run_lrdist(setup: Setup, lrdist: Path, env: dict[str, str]) -> dict:
    """lrdist's own report: the last stdout line of `finetune` is a JSON object with
    `task`, `metrics`, `train_rows`, `train_samples_per_s`, `train_flops_per_s` and
    `seconds`."""
    command = lrdist_command(setup, lrdist)
    start = time.perf_counter()
    report = last_json_line(run(command, env), command)
    total = time.perf_counter() - start
    for key in ("task", "metrics", "train_rows", "train_samples_per_s", "train_flops_per_s", "seconds"):
        if key not in report:
            raise SystemExit(f"lrdist finetune's JSON line has no '{key}': {report}")
    if report["task"] != setup.task or report["train_rows"] != setup.train_rows:
        raise SystemExit(
            f"lrdist trained {report['task']} on {report['train_rows']} rows, "
            f"expected {setup.task} on {setup.train_rows}"
        )
    return {
        "command": command,
        "train_samples_per_s": report["train_samples_per_s"],
        "accuracy": report["metrics"]["accuracy"],
        "train_seconds": setup.train_rows * setup.epochs / report["train_samples_per_s"],
        "train_flops_per_s": report["train_flops_per_s"],
        "total_seconds": total,
        "report": report,
    }


def run_hf(setup: Setup, runner: str, args: argparse.Namespace, sample: Path, env: dict[str, str]) -> dict:
    """One Trainer run in a fresh python process (see `hf_worker`)."""
    command = [
        sys.executable, str(Path(__file__).resolve()),
        "--worker", runner,
        "--lr", repr(setup.learning_rate),
        "--epochs", str(setup.epochs),
        "--sample", str(sample),
        "--model", str(args.model),
        "--glue-dir", str(args.glue_dir),
    ]  # fmt: skip
    start = time.perf_counter()
    report = last_json_line(run(command, env), command)
    report["total_seconds"] = time.perf_counter() - start
    report["command"] = command
    return report


def full_encoder_training_flops(hidden: int, intermediate: int, layers: int, shapes: list[tuple[int, int]]) -> float:
    """Model FLOPs of training steps on `[batch, seq]` batches of a BERT encoder that runs
    every layer in full, as transformers' does; counted as `lrdist_train::flops` counts
    lrdist's (matrix products only, a multiply-add 2 FLOPs, backward 2x forward): per token
    and layer 2 (4 h^2 + 2 h i) for the projections and the feed-forward, 4 t h for the
    attention scores and weighted sums."""
    h, i = hidden, intermediate
    return sum(3 * layers * b * t * (2 * (4 * h * h + 2 * h * i) + 4 * t * h) for b, t in shapes)


def hf_worker(setup: Setup, runner: str, sample: Path, model_dir: Path, glue_dir: Path) -> None:
    """Fine-tune with the transformers Trainer and print one JSON line with the result.

    `run_glue`: tokenise with padding="max_length" (run_glue.py's default
    pad_to_max_length=True) and the default collator. `dynamic`: tokenise without padding
    and pad each batch to its longest row with DataCollatorWithPadding. Everything else
    is the Trainer's default, as run_glue.py leaves it (AdamW, max_grad_norm 1.0)."""
    import torch
    import transformers
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    torch.set_num_threads(os.cpu_count() or 1)
    transformers.logging.set_verbosity_error()
    worker_start = time.perf_counter()
    train_rows, dev_rows = read_sample(sample), read_dev(glue_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    padding = "max_length" if runner == "run_glue" else False

    def encode(rows: list[tuple[str, int]]) -> list[dict]:
        enc = tokenizer(
            [sentence for sentence, _ in rows],
            padding=padding,
            max_length=setup.max_len,
            truncation=True,
        )
        return [
            {**{key: enc[key][i] for key in enc.keys()}, "labels": label}
            for i, (_, label) in enumerate(rows)
        ]

    train, dev = encode(train_rows), encode(dev_rows)
    transformers.set_seed(setup.seed)  # the fresh classifier's initialisation
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)

    with tempfile.TemporaryDirectory() as output_dir:
        args = TrainingArguments(
            output_dir=output_dir,
            per_device_train_batch_size=setup.batch_size,
            per_device_eval_batch_size=setup.eval_batch_size,
            num_train_epochs=setup.epochs,
            learning_rate=setup.learning_rate,
            weight_decay=setup.weight_decay,
            lr_scheduler_type=setup.schedule,
            warmup_steps=setup.warmup_fraction,
            seed=setup.seed,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            eval_strategy="no",
            logging_strategy="no",
            disable_tqdm=True,
            dataloader_pin_memory=False,
        )
        collator = default_data_collator if runner == "run_glue" else DataCollatorWithPadding(tokenizer)
        shapes: list[tuple[int, int]] = []

        def recording_collator(features: list[dict]) -> dict:
            """The collator, noting the `[batch, seq]` shape of every batch it makes."""
            batch = collator(features)
            shapes.append(tuple(batch["input_ids"].shape))
            return batch

        trainer = Trainer(
            model=model,
            args=args,
            data_collator=recording_collator,
            train_dataset=train,
            processing_class=tokenizer,
        )
        start = time.perf_counter()
        metrics = trainer.train().metrics
        train_seconds = time.perf_counter() - start
        train_shapes = list(shapes)

        start = time.perf_counter()
        prediction = trainer.predict(dev)
        eval_seconds = time.perf_counter() - start

    predicted = prediction.predictions.argmax(axis=-1)
    cfg = model.config
    train_flops = full_encoder_training_flops(
        cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, train_shapes
    )
    report = {
        "runner": runner,
        "task": setup.task,
        "train_rows": len(train_rows),
        "dev_rows": len(dev_rows),
        "train_samples_per_s": len(train_rows) * setup.epochs / train_seconds,
        "accuracy": float((predicted == prediction.label_ids).mean()),
        "predicted_label_counts": {str(k): int(v) for k, v in Counter(predicted.tolist()).items()},
        "train_seconds": train_seconds,
        "train_batches": len(train_shapes),
        "train_padded_tokens": sum(b * t for b, t in train_shapes),
        "train_flops": train_flops,
        "train_flops_per_s": train_flops / train_seconds,
        "eval_seconds": eval_seconds,
        "worker_seconds": time.perf_counter() - worker_start,
        "trainer_metrics": metrics,
        "optimizer": str(getattr(args.optim, "value", args.optim)),
        "max_grad_norm": args.max_grad_norm,
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(report))


# --- report -----------------------------------------------------------------------------


def versions(lrdist: Path | None, env: dict[str, str]) -> dict:
    import accelerate
    import tokenizers
    import torch
    import transformers

    found = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_lib": str(Path(torch.__file__).parent / "lib"),
        "transformers": transformers.__version__,
        "accelerate": accelerate.__version__,
        "tokenizers": tokenizers.__version__,
    }
    if lrdist is not None:
        found["lrdist"] = run([str(lrdist), "--version"], env).strip()
        found["lrdist_libtorch_cpu"] = linked_libtorch(lrdist)
    return found


def linked_libtorch(binary: Path) -> str | None:
    """The libtorch_cpu.so that the dynamic loader picks for `binary` (from ldd)."""
    out = subprocess.run(["ldd", str(binary)], stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        if "libtorch_cpu.so" in line and "=>" in line:
            return line.split("=>")[1].split("(")[0].strip()
    return None


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


MATMUL = ["bench", "matmul", "--n", "2048", "--reps", "20"]


def matmul_rate(lrdist: Path, env: dict[str, str]) -> float:
    """The machine's fp32 matmul rate through tch, FLOP/s (`lrdist bench matmul`)."""
    command = [str(lrdist), *MATMUL]
    return last_json_line(run(command, env), command)["flops_per_s"]


def ceiling(train_flops_per_s: float, before: float, after: float) -> dict:
    """A run's training FLOP/s (counted from model shapes on the batch shapes it ran) as a
    share of the fp32 matmul rate read right before and right after it. This VM's speed
    drifts by tens of per cent between minutes, so the ceiling is taken in the same
    minutes as the training, and the higher of the two readings counts (the conservative
    share)."""
    peak = max(before, after)
    return {
        "matmul_flops_per_s_before": before,
        "matmul_flops_per_s_after": after,
        "matmul_flops_per_s": peak,
        "train_flops_per_s": train_flops_per_s,
        "fraction": train_flops_per_s / peak,
    }


def spread(values: list[float]) -> dict:
    """Median and range of one quantity over the rounds, with every round's value."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "rounds": values}


def summarise(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Per runner, over its rounds: train samples/s, share of the matmul ceiling, dev
    accuracy and seconds, each as a `spread`."""
    return {
        name: {
            "train_samples_per_s": spread([r["train_samples_per_s"] for r in rounds]),
            "ceiling_fraction": spread([r["ceiling"]["fraction"] for r in rounds]),
            "accuracy": spread([r["accuracy"] for r in rounds]),
            "train_seconds": spread([r["train_seconds"] for r in rounds]),
            "total_seconds": spread([r["total_seconds"] for r in rounds]),
        }
        for name, rounds in runs.items()
    }


def ratios(runs: dict[str, list[dict]], summary: dict[str, dict]) -> dict[str, dict]:
    """Train throughput of lrdist over each Trainer runner (> 1: lrdist is faster): the
    ratio of the medians, and the range of the ratios within a round (the runs of one
    round are minutes apart, so they share most of the machine's drift)."""
    out = {}
    for a, b in RATIOS:
        if a in runs and b in runs:
            within = [x["train_samples_per_s"] / y["train_samples_per_s"] for x, y in zip(runs[a], runs[b])]
            out[f"{a} / {b}"] = {
                "of_medians": summary[a]["train_samples_per_s"]["median"] / summary[b]["train_samples_per_s"]["median"],
                "within_round_min": min(within),
                "within_round_max": max(within),
            }
    return out


def accuracy_check(runs: dict[str, list[dict]], tolerance: float, majority: float) -> dict:
    """Do all runs, of every runner and round, agree on dev accuracy, and did each learn at all?"""
    accuracies = [r["accuracy"] for rounds in runs.values() for r in rounds]
    gap = max(accuracies) - min(accuracies)
    not_learned = sorted(
        {name for name, rounds in runs.items() for r in rounds if r["accuracy"] < majority + LEARNED_MARGIN}
    )
    return {
        "tolerance": tolerance,
        "gap": gap,
        "agree": gap <= tolerance + 1e-12,
        "majority_rate": majority,
        "learned_margin": LEARNED_MARGIN,
        "not_learned": not_learned,
    }


def median_range(s: dict, fmt: str, scale: float = 1.0) -> str:
    """`median (min-max)` of a `spread`, each value times `scale` in format `fmt`."""
    m, lo, hi = (format(s[k] * scale, fmt) for k in ("median", "min", "max"))
    return f"{m} ({lo}\u2013{hi})"


def markdown(summary: dict[str, dict], speed: dict[str, dict], check: dict, setup: Setup, rounds: int,
             readings: list[float]) -> str:
    lines = [
        f"{setup.task}, {setup.train_rows} train rows, {setup.epochs} epoch(s), batch {setup.batch_size}, "
        f"lr {short_float(setup.learning_rate)}, max length {setup.max_len}, seed {setup.seed}, "
        f"{os.cpu_count()} CPU threads; {rounds} interleaved round(s), median (min\u2013max) over the rounds",
        "",
        "| runner | train samples/s | share of the matmul ceiling | dev accuracy | train s | total s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in summary.items():
        lines.append(
            f"| {RUNNERS[name]} | {median_range(s['train_samples_per_s'], '.1f')} "
            f"| {median_range(s['ceiling_fraction'], '.0f', 100)} % "
            f"| {median_range(s['accuracy'], '.4f')} "
            f"| {s['train_seconds']['median']:.1f} | {s['total_seconds']['median']:.1f} |"
        )
    lines.append("")
    for name, r in speed.items():
        lines.append(
            f"- train samples/s, {name}: {r['of_medians']:.2f}x (ratio of the medians; "
            f"within a round {r['within_round_min']:.2f}x\u2013{r['within_round_max']:.2f}x)"
        )
    lines.append(
        f"- matmul ceiling (fp32 through tch, 2048^3, best of 20), read before the first run and after "
        f"every run: {statistics.median(readings) / 1e9:.1f} GFLOP/s median of {len(readings)} readings "
        f"({min(readings) / 1e9:.1f}\u2013{max(readings) / 1e9:.1f}); a run's share is its training "
        "FLOP/s (model FLOPs of the batch shapes it ran) over the higher reading around it"
    )
    if len(summary) > 1 or rounds > 1:
        verdict = "agree" if check["agree"] else "DO NOT agree"
        lines.append(
            f"- dev accuracies of all runs {verdict} within {100 * check['tolerance']:.0f} points "
            f"(largest gap {100 * check['gap']:.2f} points)"
        )
    for name in check["not_learned"]:
        lines.append(
            f"- {name} did NOT learn in every round: lowest dev accuracy "
            f"{summary[name]['accuracy']['min']:.4f} is within {100 * LEARNED_MARGIN:.0f} points of "
            f"always predicting the majority label ({check['majority_rate']:.4f})"
        )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    default = Setup()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lrdist", type=Path, default=ROOT / "target/release/lrdist")
    p.add_argument("--model", type=Path, default=Path(os.environ.get("LRDIST_MODEL", ROOT / "models/all-MiniLM-L6-v2")))
    p.add_argument("--glue-dir", type=Path, default=Path(os.environ.get("GLUE_DIR", ROOT.parent / "shared/glue")))
    p.add_argument("--out", type=Path, default=ROOT / "results/bench/peer.json")
    p.add_argument("--runners", nargs="+", choices=list(RUNNERS), default=list(RUNNERS),
                   help="which runners to run (default: all three)")
    p.add_argument("--lr", type=float, default=default.learning_rate,
                   help=f"the flat learning rate (default {short_float(default.learning_rate)})")
    p.add_argument("--epochs", type=int, default=default.epochs, help=f"default {default.epochs}")
    p.add_argument("--sample", type=Path,
                   help="train rows as sentence<TAB>label, instead of asking `lrdist data sample`")
    p.add_argument("--rounds", type=int, default=3,
                   help="interleaved rounds, each running every runner once (default 3)")
    p.add_argument("--tolerance", type=float, default=0.02,
                   help="largest dev-accuracy gap accepted, as a fraction (default 0.02 = 2 points)")
    p.add_argument("--worker", choices=["run_glue", "dynamic"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.rounds < 1:
        p.error("--rounds must be at least 1")
    return args


def main() -> None:
    args = parse_args()
    os.environ["HF_HUB_OFFLINE"] = "1"
    args.model, args.glue_dir = args.model.resolve(), args.glue_dir.resolve()
    setup = replace(Setup(), learning_rate=args.lr, epochs=args.epochs)
    if args.worker:
        hf_worker(setup, args.worker, args.sample, args.model, args.glue_dir)
        return

    if not (args.model / "config.json").is_file():
        raise SystemExit(f"model not found: {args.model}/config.json (set LRDIST_MODEL or --model)")
    dev = read_dev(args.glue_dir)
    if not args.lrdist.is_file():  # every round reads the matmul ceiling through it
        raise SystemExit(f"{args.lrdist} not found: run `make build`")
    env = {**os.environ, "GLUE_DIR": str(args.glue_dir), "LRDIST_MODEL": str(args.model)}

    with tempfile.TemporaryDirectory() as tmp:
        sample, sample_command = args.sample, None
        if sample is None:
            sample = Path(tmp) / f"{setup.task}-train-{setup.train_rows}-seed{setup.seed}.tsv"
            print(f"==> asking lrdist for its {setup.train_rows} {setup.task} train rows", flush=True)
            sample_command = sample_with_lrdist(setup, args.lrdist, sample, env)
        rows = read_sample(sample)
        labels = sorted({label for _, label in rows})
        if len(rows) != setup.train_rows or labels != [0, 1]:
            raise SystemExit(f"{sample}: {len(rows)} rows with labels {labels}, expected {setup.train_rows} rows of both labels")

        runs: dict[str, list[dict]] = {name: [] for name in args.runners}
        readings = [matmul_rate(args.lrdist, env)]
        for round_ in range(1, args.rounds + 1):
            for runner in args.runners:
                print(f"==> round {round_}/{args.rounds}, {runner}: {RUNNERS[runner]}", flush=True)
                if runner == "lrdist":
                    r = run_lrdist(setup, args.lrdist, env)
                else:
                    r = run_hf(setup, runner, args, sample, env)
                readings.append(matmul_rate(args.lrdist, env))
                r = {"round": round_, **r, "ceiling": ceiling(r["train_flops_per_s"], readings[-2], readings[-1])}
                runs[runner].append(r)
                print(f"    {r['train_samples_per_s']:.1f} train samples/s, "
                      f"{100 * r['ceiling']['fraction']:.0f} % of the matmul ceiling, "
                      f"dev accuracy {r['accuracy']:.4f}", flush=True)
        sample_sha = sha256(sample)

    summary = summarise(runs)
    speed = ratios(runs, summary)
    check = accuracy_check(runs, args.tolerance, majority_rate(dev))
    table = markdown(summary, speed, check, setup, args.rounds, readings)
    print()
    print(table)

    write_report(args.out, f"Performance: peer comparison, {args.rounds} interleaved rounds", {
        "versions": versions(args.lrdist, env),
        "setup": {**asdict(setup), "dev_rows": len(dev), "device": "cpu", "torch_threads": os.cpu_count()},
        "train_rows": {"sample_command": sample_command, "file": None if sample_command else str(sample), "sha256": sample_sha},
        "rounds": args.rounds,
        "order": list(args.runners),  # of the runs in every round
        "runners": {
            name: {"description": RUNNERS[name], **summary[name], "runs": runs[name]} for name in args.runners
        },
        "ratios": speed,
        "ceiling": {
            "command": [str(args.lrdist), *MATMUL],
            "read": "before the first run and after every run, in order",
            "matmul_flops_per_s_readings": readings,
        },
        "accuracy_check": check,
        "markdown": table,
    }, machine={"cpu_model": cpu_model()})
    if not check["agree"] or check["not_learned"]:
        raise SystemExit("the runners did not all learn SST-2 to the same accuracy: see the lines above")


if __name__ == "__main__":
    main()
