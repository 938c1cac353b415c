#!/usr/bin/env python3
"""Tests of `lrdist --save`, `lrdist predict` and python/lrdist_head.py with transformers.

Runs the shell and Python blocks of the README section "Save and predict" as written,
from a scratch folder that sees the checkout's target/, models/ and python/, then checks
what they wrote: the layout of each saved folder, and that `lrdist predict`'s output on
them is what transformers computes (`AutoModelForSequenceClassification` for the
`--head pooler` folder, `lrdist_head.load` for the `--head cls` folders of the run),
probabilities and values within 1e-4. Also runs `lrdist predict` on a
`BertForSequenceClassification` folder that transformers itself saved, with its weights
in model.safetensors and in a `torch.save`d pytorch_model.bin.

Run from the repository root after `cargo build --release`, with GLUE_DIR naming the GLUE
folder: `make test-save` (which installs scripts/requirements-peer.txt into the venv
first), or
    GLUE_DIR=$PWD/../shared/glue .venv/bin/python python/test_lrdist_head.py
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
import lrdist_head  # noqa: E402

TOLERANCE = 1e-4


def readme_blocks(title: str) -> list[tuple[str, str]]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(sh|python)\n(.*?)```", section, re.S)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class SaveAndPredict(unittest.TestCase):
    def assert_same_prediction(self, ours: dict, theirs: dict) -> None:
        self.assertEqual(ours.keys(), theirs.keys())
        if "value" in ours:
            self.assertAlmostEqual(ours["value"], theirs["value"], delta=TOLERANCE)
            return
        self.assertEqual(ours["label"], theirs["label"])
        self.assertEqual(list(ours["probabilities"]), list(theirs["probabilities"]))
        for name, p in ours["probabilities"].items():
            self.assertAlmostEqual(p, theirs["probabilities"][name], delta=TOLERANCE)

    def test_readme_commands(self):
        blocks = readme_blocks("Save and predict")
        self.assertEqual([kind for kind, _ in blocks], ["sh", "python"])
        self.assertTrue((ROOT / "target/release/lrdist").is_file(), "build lrdist first")
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for part in ("target", "models", "python"):
                os.symlink(ROOT / part, tmp / part)
            env = {**os.environ, "LRDIST_MODEL": "", "HF_HUB_OFFLINE": "1"}
            for kind, code in blocks:
                cmd = (["bash", "-euo", "pipefail", "-c", code] if kind == "sh"
                       else [sys.executable, "-c", code])
                done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                      check=False)
                self.assertEqual(done.returncode, 0,
                                 f"README {kind} block failed:\n{code}\n{done.stderr}")
            self.check_folders(tmp / "saved")
            with open(tmp / "reviews.csv", newline="") as f:
                reviews = [row["text"] for row in csv.DictReader(f)]
            pairs = read_jsonl(tmp / "pairs.jsonl")
            saved = tmp / "saved"
            cases = [
                ("sst2", reviews, None, read_jsonl(saved / "sst2.jsonl")),
                ("run/stsb", [p["s1"] for p in pairs], [p["s2"] for p in pairs],
                 read_jsonl(saved / "stsb.jsonl")),
            ]
            for folder, texts, text_pairs, ours in cases:
                model, tokenizer = lrdist_head.load(saved / folder, attn_implementation="eager")
                theirs = lrdist_head.predict(model, tokenizer, texts, text_pairs)
                self.assertEqual(len(ours), len(texts), folder)
                for a, b in zip(ours, theirs):
                    self.assert_same_prediction(a, b)

    def test_predict_reads_a_folder_transformers_saved(self):
        """`lrdist predict` on a BertForSequenceClassification that transformers itself
        made and saved (three labels, a seeded head on the default model), its weights as
        transformers 5 writes them (model.safetensors) and as `torch.save` writes them
        (pytorch_model.bin, what save_pretrained(safe_serialization=False) wrote)."""
        import torch
        from transformers import AutoTokenizer, BertForSequenceClassification

        model_dir = ROOT / "models" / "all-MiniLM-L6-v2"
        names = ["entailment", "neutral", "contradiction"]
        torch.manual_seed(0)
        model = BertForSequenceClassification.from_pretrained(
            model_dir, num_labels=3, id2label=dict(enumerate(names)),
            label2id={n: i for i, n in enumerate(names)}).eval()
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        texts = ["A man is playing a guitar.", "Nobody is here.", "The cat sat."]
        pairs = ["Someone plays music.", "A crowd fills the hall.", "A cat is sitting."]
        theirs = lrdist_head.predict(model, tokenizer, texts, pairs)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            model.save_pretrained(tmp / "hf")
            tokenizer.save_pretrained(tmp / "hf")
            (tmp / "hf_bin").mkdir()
            for f in (tmp / "hf").iterdir():
                if f.name != "model.safetensors":
                    (tmp / "hf_bin" / f.name).write_bytes(f.read_bytes())
            torch.save(dict(model.state_dict()), tmp / "hf_bin" / "pytorch_model.bin")
            rows = "".join(json.dumps({"premise": a, "hypothesis": b}) + "\n"
                           for a, b in zip(texts, pairs))
            (tmp / "rows.jsonl").write_text(rows)
            for folder in ("hf", "hf_bin"):
                done = subprocess.run(
                    [ROOT / "target/release/lrdist", "predict", "-q", "--model", tmp / folder,
                     "--input", tmp / "rows.jsonl", "--text-column", "premise",
                     "--text-pair-column", "hypothesis"],
                    capture_output=True, text=True, check=False)
                self.assertEqual(done.returncode, 0, done.stderr)
                ours = [json.loads(line) for line in done.stdout.splitlines()]
                self.assertEqual(len(ours), len(texts), folder)
                for a, b in zip(ours, theirs):
                    self.assert_same_prediction(a, b)

    def check_folders(self, saved: Path) -> None:
        config = json.loads((saved / "sst2" / "config.json").read_text())
        self.assertEqual(config["architectures"], ["BertForSequenceClassification"])
        self.assertEqual(config["id2label"], {"0": "0", "1": "1"})
        self.assertFalse((saved / "sst2" / "lrdist_head.json").exists())
        for task, problem in [("sst2", "single_label_classification"), ("stsb", "regression")]:
            folder = saved / "run" / task
            self.assertEqual(json.loads((folder / "config.json").read_text())["architectures"],
                             ["BertModel"])
            head = json.loads((folder / "lrdist_head.json").read_text())
            self.assertEqual(head["problem_type"], problem)
            for name in ["tokenizer.json", "vocab.txt", "model.safetensors",
                         "lrdist_head.safetensors"]:
                self.assertTrue((folder / name).is_file(), folder / name)
        record = read_jsonl(saved / "run.jsonl")
        self.assertEqual(len(record), 1)
        self.assertNotIn("head", record[0], "the default head is left out of records")


if __name__ == "__main__":
    unittest.main(verbosity=2)
