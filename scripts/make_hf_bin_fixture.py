#!/usr/bin/env python3
"""Writes the `pytorch_model.bin` fixture of the lrdist-model crate: a tiny Hugging Face
`BertForSequenceClassification` folder whose weights are a `torch.save`d state dict, and
what transformers computes on it, for the tests that `lrdist predict` (and the encoder's
loader) read such folders (`crates/model/tests/hf_bin.rs`, `crates/train/tests/predict.rs`,
`crates/optimizer/src/param_groups.rs`), which need no Python.

Output, under crates/model/tests/fixtures/ (about 250 KB in all):
  hf_bin/                      the folder: config.json (architectures
                               ["BertForSequenceClassification"], 3 named labels),
                               pytorch_model.bin, tokenizer.json, tokenizer_config.json,
                               vocab.txt
  hf_bin_other.safetensors     another model of the same shape (another seed), as the
                               model.safetensors transformers' save_pretrained writes: put
                               beside pytorch_model.bin, it is the one to be read
  hf_bin_expected.json         the rows (texts, pairs, token ids), and the logits of both
                               models on them from transformers (eval mode, float32, eager
                               attention), with the command and versions that made them

The model is tiny (vocabulary of 86 WordPiece tokens: letters, `##` letters, digits,
punctuation and a few words; hidden size 32, 2 layers, 4 heads) and its weights are drawn
wider than BERT's initialisation, so that rows get clearly different logits. The
tokenizer is all-MiniLM-L6-v2's `tokenizer.json` with that vocabulary (the file format the
Rust `tokenizers` reads), padding and truncation switched off.

`pytorch_model.bin` is written as transformers' `save_pretrained(...,
safe_serialization=False)` wrote it (transformers 4.x: `torch.save` of a plain dict of the
state dict's tensors, torch's zip format). transformers 5 dropped that option (its
`save_pretrained` always writes model.safetensors), so the script calls `torch.save`
itself, then checks that transformers' `from_pretrained` loads the folder whole (no
missing or unexpected tensor) and computes the same logits.

Run from the workspace root with transformers in the project venv (`make fixture-hf-bin`,
which installs scripts/requirements-peer.txt first):
  .venv/bin/python scripts/make_hf_bin_fixture.py [--out crates/model/tests/fixtures]
"""

import argparse
import json
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

import tokenizers
import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

ROOT = Path(__file__).resolve().parent.parent
SOURCE_TOKENIZER = ROOT / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
LABELS = ["negative", "neutral", "positive"]
SEEDS = {"bin": 0, "other": 1}
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
LETTERS = "abcdefghijklmnopqrstuvwxyz"
WORDS = ["the", "is", "film", "man", "good", "bad", "##ing", "##ed"]
PUNCTUATION = list(".,!?'\"-():;")
# Single texts and pairs; capitals are lower-cased, `é` loses its accent and `€` is
# unknown, as BERT's normaliser and WordPiece have it.
ROWS = [
    ("A good film.", None),
    ("The man is playing the guitar!", None),
    ("bad", None),
    ("It was (really) dull; far too long - 2 hours?", None),
    ("Café prices rose by 5 €.", None),
    ("A man is playing a guitar.", "A man plays the guitar."),
    ("Nobody is here.", "The hall is full of people, singing."),
    ("Is it good?", "Yes."),
]
MAX_ABS_DIFF = 1e-5


def vocabulary():
    vocab = SPECIALS + list(LETTERS) + ["##" + c for c in LETTERS]
    vocab += [str(d) for d in range(10)] + PUNCTUATION + WORDS
    assert len(vocab) == len(set(vocab))
    return vocab


def tokenizer_json(vocab):
    """all-MiniLM-L6-v2's tokenizer.json with `vocab`, without padding or truncation."""
    spec = json.loads(SOURCE_TOKENIZER.read_text())
    ids = {token: i for i, token in enumerate(vocab)}
    spec["model"]["vocab"] = ids
    spec["truncation"] = None
    spec["padding"] = None
    spec["added_tokens"] = [
        {"id": ids[t], "special": True, "content": t, "single_word": False, "lstrip": False,
         "rstrip": False, "normalized": False}
        for t in SPECIALS
    ]
    for token, entry in spec["post_processor"]["special_tokens"].items():
        entry["ids"] = [ids[token]]
    return spec


def make_model(config, seed):
    """A BertForSequenceClassification with weights drawn from `seed`: LayerNorm scales
    near 1, the classifier's bias 0, every other parameter normal with standard deviation
    0.3."""
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn_like(p)
            if name.endswith("LayerNorm.weight"):
                p.copy_(1.0 + 0.2 * noise)
            elif name == "classifier.bias":
                p.zero_()
            else:
                p.copy_(0.3 * noise)
    return model


def encode(tokenizer):
    """The rows tokenised alone, padded together: ids, segment ids, mask, and each row's
    unpadded ids and segment ids."""
    rows = [tokenizer.encode(a, b) if b is not None else tokenizer.encode(a) for a, b in ROWS]
    width = max(len(r.ids) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for i, r in enumerate(rows):
        n = len(r.ids)
        ids[i, :n] = torch.tensor(r.ids)
        types[i, :n] = torch.tensor(r.type_ids)
        mask[i, :n] = 1
    return ids, types, mask, rows


def logits_of(model, ids, types, mask):
    with torch.no_grad():
        return model(input_ids=ids, token_type_ids=types, attention_mask=mask).logits


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "crates" / "model" / "tests" / "fixtures")
    args = parser.parse_args()

    vocab = vocabulary()
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
        num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
        label2id={name: i for i, name in enumerate(LABELS)}, attn_implementation="eager")
    models = {name: make_model(config, seed) for name, seed in SEEDS.items()}

    folder = args.out / "hf_bin"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    spec = tokenizer_json(vocab)
    (folder / "tokenizer.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in vocab))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "BertTokenizer", "do_lower_case": True, "unk_token": "[UNK]",
        "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]",
        "mask_token": "[MASK]", "model_max_length": config.max_position_embeddings,
    }, indent=2) + "\n")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, model in models.items():
            model.save_pretrained(tmp / name)
        shutil.copy(tmp / "bin" / "config.json", folder / "config.json")
        shutil.copy(tmp / "other" / "model.safetensors", args.out / "hf_bin_other.safetensors")
    # transformers 4.x's save_pretrained(safe_serialization=False): torch.save of a dict.
    state = models["bin"].state_dict()
    torch.save({k: v.contiguous() for k, v in state.items()}, folder / "pytorch_model.bin")

    tokenizer = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    ids, types, mask, rows = encode(tokenizer)
    theirs = AutoTokenizer.from_pretrained(folder)
    for (a, b), row in zip(ROWS, rows):
        got = theirs(a, b) if b is not None else theirs(a)
        assert got["input_ids"] == row.ids, (a, got["input_ids"], row.ids)
    assert any(1 in r.ids for r in rows), "some row has an unknown token"

    logits = {name: logits_of(model, ids, types, mask) for name, model in models.items()}
    # The folder as transformers reads it: every tensor of pytorch_model.bin, no other.
    loaded, info = BertForSequenceClassification.from_pretrained(
        folder, dtype=torch.float32, attn_implementation="eager", output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    assert not bad, f"{folder}: does not load whole: {info}"
    assert [loaded.config.id2label[i] for i in range(len(LABELS))] == LABELS
    diff = (logits_of(loaded.eval(), ids, types, mask) - logits["bin"]).abs().max().item()
    assert diff <= MAX_ABS_DIFF, f"transformers reads back other logits ({diff})"
    other = load_file(args.out / "hf_bin_other.safetensors")
    assert set(other) == set(state), "both files hold the same tensors"
    apart = (logits["bin"] - logits["other"]).abs().max().item()
    assert apart > 0.5, f"the two models' logits are too close ({apart})"
    spread = logits["bin"].argmax(dim=1).unique().numel()
    assert spread >= 2, "every row gets the same class"

    expected = {
        "command": " ".join(shlex.quote(a) for a in [Path(sys.executable).name] + sys.argv),
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "tokenizers": tokenizers.__version__,
        "attention": "eager",
        "labels": LABELS,
        "rows": [
            {"text": a, "text_pair": b, "input_ids": r.ids, "token_type_ids": r.type_ids}
            for (a, b), r in zip(ROWS, rows)
        ],
        "logits_bin": logits["bin"].tolist(),
        "logits_other": logits["other"].tolist(),
    }
    path = args.out / "hf_bin_expected.json"
    path.write_text(json.dumps(expected, indent=1) + "\n")
    sizes = {p.name: p.stat().st_size for p in sorted(folder.iterdir())}
    print(f"wrote {folder} {sizes}, {args.out / 'hf_bin_other.safetensors'} and {path}; "
          f"{len(rows)} rows, the two models' logits {apart:.2f} apart")


if __name__ == "__main__":
    main()
