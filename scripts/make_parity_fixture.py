#!/usr/bin/env python3
"""Writes the parity fixture of the lrdist-model crate: Hugging Face `BertModel` outputs
on 32 real GLUE inputs, for `crates/model/tests/parity.rs` (which needs no Python).

Inputs: the first 16 sentences of SST-2 dev (single sentences) and the first 16 pairs of
MRPC dev, tokenised by the model's own tokenizer (max length 128), padded together to the
longest row. The model runs in eval mode, float32, with the eager (reference) attention.

The fixture is one safetensors file (well under 1 MB) holding, for the 32 rows:
  input_ids, token_type_ids, attention_mask   [32, T] int64
  cls        last hidden state at position 0              [32, H]
  last       last hidden state at the last real token     [32, H]
  mean       mean of the last hidden states of real tokens [32, H]
  max_abs    max |state| over real tokens and features     [32]
  pooled     pooler output                                 [32, H]
  directions 8 fixed random unit vectors                    [H, 8]
  proj       every token's last hidden state projected on them, 0 on padding [32, T, 8]
and, as metadata, the versions, the command, the model and the GLUE rows used.

Usage (from the workspace root, with transformers in the project venv):
  .venv/bin/python scripts/make_parity_fixture.py \
      [--model models/all-MiniLM-L6-v2] [--glue $GLUE_DIR or ../shared/glue] \
      [--out crates/model/tests/fixtures/minilm_parity.safetensors]
"""

import argparse
import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

import torch
import transformers
from safetensors.torch import save_file
from transformers import AutoTokenizer, BertModel

ROWS_PER_TASK = 16
MAX_LENGTH = 128
NUM_DIRECTIONS = 8
DIRECTION_SEED = 1234


def read_tsv(path):
    """Rows of a GLUE TSV as dicts (no quoting: GLUE sentences contain `"`)."""
    with open(path, encoding="utf-8-sig") as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f]


def glue_inputs(glue_dir):
    sst2 = read_tsv(glue_dir / "SST-2" / "dev.tsv")[:ROWS_PER_TASK]
    mrpc = read_tsv(glue_dir / "MRPC" / "dev.tsv")[:ROWS_PER_TASK]
    firsts = [r["sentence"] for r in sst2] + [r["#1 String"] for r in mrpc]
    seconds = [None] * len(sst2) + [r["#2 String"] for r in mrpc]
    return firsts, seconds


def tokenise(tokenizer, firsts, seconds):
    """Each row tokenised alone (single or pair), then padded to the longest row."""
    rows = [
        tokenizer(a, b, truncation=True, max_length=MAX_LENGTH) if b else
        tokenizer(a, truncation=True, max_length=MAX_LENGTH)
        for a, b in zip(firsts, seconds)
    ]
    batch = tokenizer.pad(rows, padding="longest", return_tensors="pt")
    return batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]


def expected_outputs(model, ids, types, mask):
    with torch.no_grad():
        out = model(input_ids=ids, token_type_ids=types, attention_mask=mask)
    hidden, pooled = out.last_hidden_state, out.pooler_output
    real = mask.unsqueeze(-1).to(hidden.dtype)
    lengths = mask.sum(dim=1)
    generator = torch.Generator().manual_seed(DIRECTION_SEED)
    directions = torch.randn(hidden.shape[-1], NUM_DIRECTIONS, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)
    return {
        "cls": hidden[:, 0],
        "last": hidden[torch.arange(len(ids)), lengths - 1],
        "mean": (hidden * real).sum(dim=1) / lengths.unsqueeze(-1),
        "max_abs": (hidden.abs() * real).amax(dim=(1, 2)),
        "pooled": pooled,
        "directions": directions,
        "proj": (hidden @ directions) * real,
    }


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def main():
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=root / "models" / "all-MiniLM-L6-v2")
    parser.add_argument(
        "--glue", type=Path,
        default=Path(os.environ.get("GLUE_DIR", root.parent / "shared" / "glue")))
    parser.add_argument(
        "--out", type=Path,
        default=root / "crates" / "model" / "tests" / "fixtures" / "minilm_parity.safetensors")
    args = parser.parse_args()

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = BertModel.from_pretrained(
        args.model, dtype=torch.float32, attn_implementation="eager").eval()
    firsts, seconds = glue_inputs(args.glue)
    ids, types, mask = tokenise(tokenizer, firsts, seconds)
    tensors = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
    tensors.update(expected_outputs(model, ids, types, mask))
    tensors = {k: v.contiguous() for k, v in tensors.items()}

    metadata = {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "model": args.model.name,
        "model_safetensors_sha256": sha256(args.model / "model.safetensors"),
        "attention": "eager",
        "inputs": json.dumps({
            "SST-2/dev.tsv": f"rows 1-{ROWS_PER_TASK} (sentence)",
            "MRPC/dev.tsv": f"rows 1-{ROWS_PER_TASK} (#1 String, #2 String)",
            "max_length": MAX_LENGTH,
        }),
        "direction_seed": str(DIRECTION_SEED),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, args.out, metadata=metadata)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes), "
          f"{len(ids)} rows, padded length {ids.shape[1]}, real tokens {int(mask.sum())}")


if __name__ == "__main__":
    main()
