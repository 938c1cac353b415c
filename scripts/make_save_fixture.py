#!/usr/bin/env python3
"""Writes the fixture of `crates/train/tests/save_fixture.rs`: Hugging Face transformers'
logits for model folders that `lrdist --save` wrote, on 32 fixed GLUE rows, so that the
Rust test checks lrdist's logits against transformers without Python.

Input: the folder that the Rust test writes when LRDIST_SAVE_FIXTURE_OUT names it:
  rows.jsonl                 the 32 rows: SST-2 dev sentences 1-16, MRPC dev pairs 1-16
  folders.json               [{"name", "path", "head", "labels", "problem_type"}, ...]
  lrdist_logits.safetensors  input_ids, token_type_ids, attention_mask [32, T] as lrdist
                             tokenised the rows, and each folder's logits from lrdist
  pooler/sst2, pooler/stsb   `--head pooler` folders (BertForSequenceClassification)
  cls_mrpc                   a `--head cls` folder (BertModel + lrdist_head.*)

For each folder the rows are tokenised by `AutoTokenizer.from_pretrained(folder)` (each
row alone, max length 128, then padded together), which must give lrdist's ids exactly;
a `pooler` folder is loaded by `AutoModelForSequenceClassification` (every tensor must
load: no missing, unexpected or mismatched key; config labels and problem type as lrdist
meant them), a `cls` folder by `python/lrdist_head.py`; both in eval mode, float32, eager
attention. Their logits must be within 1e-4 of lrdist's, or nothing is written.

Output: one safetensors file (a few KB) with input_ids, token_type_ids, attention_mask and
one [32, num_labels] logits tensor per folder (by name), and, as metadata, the command,
the versions, the folders' configs and the differences measured.

The fixture was made with (from the workspace root, transformers in the project venv:
`.venv/bin/python -m pip install -r scripts/requirements-peer.txt`):
  LRDIST_SAVE_FIXTURE_OUT=/tmp/lrdist-save-fixture nice cargo test --release \\
      -p lrdist-train --test save_fixture
  .venv/bin/python scripts/make_save_fixture.py --saved /tmp/lrdist-save-fixture
"""

import argparse
import json
import shlex
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
import lrdist_head  # noqa: E402  (python/lrdist_head.py)

MAX_LENGTH = 128
TOLERANCE = 1e-4


def tokenise(tokenizer, rows):
    """Each row tokenised alone (single or pair), then padded to the longest row."""
    encoded = [
        tokenizer(r["text"], r["text_pair"], truncation=True, max_length=MAX_LENGTH)
        if r["text_pair"] is not None
        else tokenizer(r["text"], truncation=True, max_length=MAX_LENGTH)
        for r in rows
    ]
    batch = tokenizer.pad(encoded, padding="longest", return_tensors="pt")
    return batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]


def load_pooler(path, folder):
    model, info = AutoModelForSequenceClassification.from_pretrained(
        path, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k != "error_msgs"}
    assert not bad and not info.get("error_msgs"), f"{path}: does not load whole: {info}"
    assert type(model).__name__ == "BertForSequenceClassification", type(model)
    cfg = model.config
    names = [cfg.id2label[i] for i in range(cfg.num_labels)]
    assert names == folder["labels"], (names, folder["labels"])
    assert cfg.problem_type == folder["problem_type"], cfg.problem_type
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saved", type=Path, required=True,
                        help="the folder LRDIST_SAVE_FIXTURE_OUT named")
    parser.add_argument(
        "--out", type=Path,
        default=ROOT / "crates" / "train" / "tests" / "fixtures" / "save_logits.safetensors")
    args = parser.parse_args()

    torch.manual_seed(0)
    rows = [json.loads(line) for line in (args.saved / "rows.jsonl").read_text().splitlines()]
    folders = json.loads((args.saved / "folders.json").read_text())
    theirs = load_file(args.saved / "lrdist_logits.safetensors")
    tensors, report = {}, {}
    for folder in folders:
        path = args.saved / folder["path"]
        ids, types, mask = tokenise(AutoTokenizer.from_pretrained(path), rows)
        for key, value in [("input_ids", ids), ("token_type_ids", types), ("attention_mask", mask)]:
            assert torch.equal(value, theirs[key]), f"{path}: {key} differ from lrdist's"
            tensors[key] = value
        if folder["head"] == "pooler":
            model = load_pooler(path, folder)
        else:
            model = lrdist_head.load_cls(path, dtype=torch.float32, attn_implementation="eager")
        with torch.no_grad():
            logits = model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits
        diff = (logits - theirs[folder["name"]]).abs().max().item()
        print(f"{folder['name']} ({folder['head']}, {type(model).__name__}): "
              f"max |transformers - lrdist| = {diff:.2e}")
        assert diff <= TOLERANCE, f"{folder['name']}: logits differ by {diff}"
        tensors[folder["name"]] = logits.contiguous()
        report[folder["name"]] = {
            "head": folder["head"], "class": type(model).__name__, "max_abs_diff": diff,
            "config": json.loads((path / "config.json").read_text()),
        }

    metadata = {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv),
        "made_from": "LRDIST_SAVE_FIXTURE_OUT=<dir> cargo test --release -p lrdist-train "
                     "--test save_fixture",
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "attention": "eager",
        "rows": "SST-2/dev.tsv rows 1-16 (sentence), MRPC/dev.tsv rows 1-16 (#1 String, #2 String)",
        "max_length": str(MAX_LENGTH),
        "folders": json.dumps(report),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, args.out, metadata=metadata)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes), {len(rows)} rows, "
          f"padded length {tensors['input_ids'].shape[1]}")


if __name__ == "__main__":
    main()
