#!/usr/bin/env python3
"""Tests of `lrdist export-param-groups` and python/lrdist_param_groups.py, in the venv.

On transformers' BertForSequenceClassification, built from the default model folder
(6 layers) and from a random 12-layer BertConfig saved to a temporary folder, every
trainable parameter must be in exactly one AdamW group, with the rate lrdist gives its
depth and weight decay 0 exactly on biases and LayerNorm. The expected rate of each name
is worked out here, independently of lrdist's code: the depth from the name (embeddings
0, encoder.layer.i at i + 1, pooler and classifier at L + 1), the group of the depth from
`lrdist groups --json`, the rate of the group from the distribution itself. Also runs
every command of the README section "Learning-rate distributions in PyTorch", verbatim.

Run from the repository root after `cargo build --release`: `make test-python` (which
installs scripts/requirements-peer.txt into the venv first), or
    .venv/bin/python python/test_param_groups.py [--lrdist target/release/lrdist]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
from transformers import BertConfig, BertForSequenceClassification, BertModel  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
from lrdist_param_groups import (  # noqa: E402
    ParamGroupsError,
    load_param_groups,
    param_groups,
    read_param_groups,
)

hf_logging.set_verbosity_error()
hf_logging.disable_progress_bar()

LRDIST = ROOT / "target" / "release" / "lrdist"
MODEL = Path(os.environ.get("LRDIST_MODEL") or ROOT / "models" / "all-MiniLM-L6-v2")

# The authors' combined distribution over the paper's 10 groups (PAPER.md, "Combination").
PAPER_COMBINED = [
    3.295e-6, 4.363e-6, 9.215e-7, 1.923e-6, 2.849e-6, 2.143e-6, 3.267e-6, 3.699e-6,
    3.186e-6, 1.119e-5,
]


def lrdist(*args: str, cwd: Path | None = None) -> str:
    """Runs lrdist, failing the test with its stderr when it fails."""
    done = subprocess.run(
        [str(LRDIST), "-q", *args], capture_output=True, text=True, cwd=cwd, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"lrdist {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def export(model_dir: Path, distribution: str, *flags: str) -> list[dict]:
    out = lrdist("export-param-groups", "--model", str(model_dir),
                 "--distribution", distribution, *flags)
    return json.loads(out)


def depth(name: str, layers: int) -> int:
    """The depth of a BertForSequenceClassification parameter, from its name alone."""
    if name.startswith("bert.embeddings."):
        return 0
    m = re.match(r"bert\.encoder\.layer\.(\d+)\.", name)
    if m:
        assert int(m.group(1)) < layers, name
        return int(m.group(1)) + 1
    assert name.startswith(("bert.pooler.", "classifier.")), name
    return layers + 1


def group_of_depth(model_dir: Path, grouping: str) -> dict[int, int]:
    """Depth -> group of `grouping`, from `lrdist groups --json`."""
    rows = json.loads(lrdist("groups", "--model", str(model_dir), "--grouping", grouping, "--json"))
    return {d: row["group"] for row in rows for d in range(row["depth_lo"], row["depth_hi"] + 1)}


def rates_by_depth(groups: list[dict], layers: int) -> dict[int, float]:
    """Depth -> the one rate of all its parameters in `groups` (fails when they differ)."""
    rates: dict[int, float] = {}
    for g in groups:
        for name in g["params"]:
            d = depth(name, layers)
            assert rates.setdefault(d, g["lr"]) == g["lr"], f"two rates at depth {d}: {name}"
    assert sorted(rates) == list(range(layers + 2)), sorted(rates)
    return rates


def is_plain(name: str) -> bool:
    """Never weight-decayed: biases and LayerNorm parameters."""
    return name.endswith(".bias") or ".LayerNorm." in name


class ParamGroupsTest(unittest.TestCase):
    def check(self, model, groups: list[dict], layers: int, rate, decay: float) -> None:
        """Every trainable parameter of `model` in exactly one group, at `rate(depth)`, with
        weight decay `decay` except 0 on biases and LayerNorm; the same in AdamW."""
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        named = [n for g in groups for n in g["params"]]
        self.assertEqual(len(named), len(set(named)), "a name is in two groups")
        self.assertEqual(set(named), trainable)
        for g in groups:
            for name in g["params"]:
                self.assertEqual(g["lr"], rate(depth(name, layers)), name)
                self.assertEqual(g["weight_decay"], 0.0 if is_plain(name) else decay, name)
        # At most two groups (decayed or not) per distinct rate.
        self.assertLessEqual(len(groups), 2 * len({g["lr"] for g in groups}))

        optimizer = torch.optim.AdamW(param_groups(groups, model))
        by_tensor = {id(p): n for n, p in model.named_parameters()}
        seen = []
        for g in optimizer.param_groups:
            for p in g["params"]:
                name = by_tensor[id(p)]
                seen.append(name)
                self.assertEqual(g["lr"], rate(depth(name, layers)), name)
                self.assertEqual(g["weight_decay"], 0.0 if is_plain(name) else decay, name)
        self.assertEqual(sorted(seen), sorted(trainable))

    def test_default_model(self):
        model = BertForSequenceClassification.from_pretrained(MODEL, num_labels=2)
        layers = model.config.num_hidden_layers
        self.assertEqual(layers, 6)

        # llrd:1e-4:0.5: the top depth at 1e-4, halved at each depth below (exact in binary).
        groups = export(MODEL, "llrd:1e-4:0.5", "--weight-decay", "0.01")
        self.check(model, groups, layers, lambda d: 1e-4 * 0.5 ** (layers + 1 - d), 0.01)
        self.assertEqual(len(groups), 2 * (layers + 2))

        # flat, with lrdist's default weight decay 0: two groups.
        groups = export(MODEL, "flat:2e-5")
        self.check(model, groups, layers, lambda d: 2e-5, 0.0)
        self.assertEqual(len(groups), 2)

        with tempfile.TemporaryDirectory() as tmp:
            # A file of just `rates:`: L + 2 rates are per-layer...
            rates = [1e-6 * (d + 1) for d in range(layers + 2)]
            per_layer = Path(tmp) / "per-layer.yaml"
            per_layer.write_text(f"rates: {json.dumps(rates)}\n")
            groups = export(MODEL, str(per_layer), "--weight-decay", "0.1")
            self.check(model, groups, layers, lambda d: rates[d], 0.1)
            # ...and K others are even:K, here used as even:3 without any transfer.
            three = [1e-6, 1e-5, 1e-4]
            even = Path(tmp) / "three.json"
            even.write_text(json.dumps({"rates": three}))
            group = group_of_depth(MODEL, "even:3")
            groups = export(MODEL, str(even), "--grouping", "even:3", "--weight-decay", "0.1")
            self.check(model, groups, layers, lambda d: three[group[d]], 0.1)
            # A count no grouping has is a one-line error that says what fits.
            bad = Path(tmp) / "twenty.yaml"
            bad.write_text(f"rates: {json.dumps([1e-5] * 20)}\n")
            done = subprocess.run(
                [str(LRDIST), "export-param-groups", "--model", str(MODEL), "--distribution",
                 str(bad)], capture_output=True, text=True, check=False)
            self.assertEqual(done.returncode, 2, done.stderr)
            self.assertEqual(done.stderr.count("\n"), 1, done.stderr)
            for part in ("twenty.yaml", "20 rates given", "per-layer needs L + 2 = 8 rates",
                         "even:K takes K = 1 to 8"):
                self.assertIn(part, done.stderr)

        # paper-combined, transferred to 6 layers: every depth one rate, the ends held.
        groups = export(MODEL, "paper-combined")
        per_depth = rates_by_depth(groups, layers)
        self.assertEqual(per_depth[0], PAPER_COMBINED[0])
        self.assertEqual(per_depth[layers + 1], PAPER_COMBINED[9])
        self.check(model, groups, layers, lambda d: per_depth[d], 0.0)

    def test_random_twelve_layer_bert(self):
        config = BertConfig(
            vocab_size=100, hidden_size=32, num_hidden_layers=12, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=64, num_labels=3,
        )
        torch.manual_seed(0)
        with tempfile.TemporaryDirectory() as tmp:
            encoder_dir, classifier_dir = Path(tmp) / "encoder", Path(tmp) / "classifier"
            # The files of a pretrained encoder (BertModel: no prefix, no classifier)...
            BertModel(config).save_pretrained(encoder_dir)
            self.assertTrue((encoder_dir / "model.safetensors").is_file())
            model = BertForSequenceClassification.from_pretrained(encoder_dir, num_labels=3)
            # ...and those of a fine-tuned classifier (`bert.` prefix, classifier.*).
            model.save_pretrained(classifier_dir)

            group = group_of_depth(encoder_dir, "paper10")
            self.assertEqual(len(set(group.values())), 10)
            for model_dir in (encoder_dir, classifier_dir):
                groups = export(model_dir, "paper-combined", "--grouping", "paper10",
                                "--weight-decay", "0.01")
                self.check(model, groups, 12, lambda d: PAPER_COMBINED[group[d]], 0.01)
                self.assertEqual(len(groups), 20)

            # The groups train: one AdamW step moves every parameter of the model.
            path = Path(tmp) / "groups.json"
            path.write_text(json.dumps(export(encoder_dir, "llrd:1e-3:0.8")))
            optimizer = torch.optim.AdamW(load_param_groups(path, model))
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            ids = torch.randint(1, 100, (2, 8))
            model(input_ids=ids, labels=torch.tensor([0, 2])).loss.backward()
            optimizer.step()
            for name, p in model.named_parameters():
                self.assertFalse(torch.equal(before[name], p.detach()), name)

    def test_helper_errors_name_the_parameters(self):
        config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=32)
        model = BertForSequenceClassification(config)
        names = [n for n, _ in model.named_parameters()]
        whole = [{"lr": 1e-5, "weight_decay": 0.0, "params": names}]
        self.assertEqual(len(param_groups(whole, model)[0]["params"]), len(names))

        cases = [
            ([{"lr": 1e-5, "weight_decay": 0.0, "params": names[1:]}], "in no group: " + names[0]),
            ([{"lr": 1e-5, "weight_decay": 0.0, "params": names + ["head.weight"]}],
             "not parameters of this BertForSequenceClassification: head.weight"),
            (whole + [{"lr": 1e-4, "weight_decay": 0.0, "params": names[:1]}],
             "named more than once: " + names[0]),
        ]
        for groups, expected in cases:
            with self.assertRaises(ParamGroupsError) as caught:
                param_groups(groups, model)
            self.assertIn(expected, str(caught.exception))

        # Frozen parameters may be in the file or not; they are left out of the groups.
        model.bert.embeddings.requires_grad_(False)
        frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
        self.assertTrue(frozen)
        for groups in (whole, [{**whole[0], "params": [n for n in names if n not in frozen]}]):
            tensors = param_groups(groups, model)[0]["params"]
            self.assertEqual(len(tensors), len(names) - len(frozen))

        with tempfile.TemporaryDirectory() as tmp:
            bad = Path(tmp) / "bad.json"
            bad.write_text(json.dumps([{"lr": 1e-5, "params": names}]))
            with self.assertRaises(ParamGroupsError) as caught:
                read_param_groups(bad)
            self.assertIn("bad.json: group 0 is not", str(caught.exception))

    def test_readme_commands(self):
        """Runs the shell and Python blocks of the README's export-param-groups section as
        written, from a scratch folder that sees the checkout's target/, models/, python/."""
        readme = (ROOT / "README.md").read_text()
        section = readme.split("\n## Learning-rate distributions in PyTorch\n", 1)[1]
        section = section.split("\n## ", 1)[0]
        blocks = re.findall(r"```(sh|python)\n(.*?)```", section, re.S)
        self.assertEqual([kind for kind, _ in blocks], ["sh", "python"])
        with tempfile.TemporaryDirectory() as tmp:
            for part in ("target", "models", "python"):
                os.symlink(ROOT / part, Path(tmp) / part)
            env = {**os.environ, "LRDIST_MODEL": ""}
            for kind, code in blocks:
                shell = ["bash", "-euo", "pipefail", "-c"]
                cmd = [*shell, code] if kind == "sh" else [sys.executable, "-c", code]
                done = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                      check=False)
                self.assertEqual(done.returncode, 0,
                                 f"README {kind} block failed:\n{code}\n{done.stderr}")
            groups = json.loads((Path(tmp) / "param_groups.json").read_text())
        # paper-combined transferred to the default model's 6 layers, weight decay 0.01.
        self.assertEqual(groups, export(MODEL, "paper-combined", "--weight-decay", "0.01"))
        model = BertForSequenceClassification.from_pretrained(MODEL, num_labels=2)
        per_depth = rates_by_depth(groups, 6)
        self.check(model, groups, 6, lambda d: per_depth[d], 0.01)


def main() -> None:
    global LRDIST, MODEL
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lrdist", type=Path, default=LRDIST, help="the lrdist binary")
    parser.add_argument("--model", type=Path, default=MODEL, help="the default model folder")
    args, rest = parser.parse_known_args()
    LRDIST, MODEL = args.lrdist.resolve(), args.model.resolve()
    if not LRDIST.is_file():
        sys.exit(f"no lrdist binary at {LRDIST}: run cargo build --release first")
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
