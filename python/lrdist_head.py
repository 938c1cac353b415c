"""Load a model folder that `lrdist finetune|run --save` wrote (torch and transformers).

lrdist's default head (`--head cls`, the paper's) reads the last layer's raw [CLS]
vector: its logits are `classifier(last_hidden_state[:, 0])`, with dropout before the
classifier in training only. transformers' `BertForSequenceClassification` cannot express
that (it puts BERT's pooler in between), so a `cls` folder is a `BertModel` folder
(`config.json` with architectures ["BertModel"], `model.safetensors`, the tokenizer files)
plus the head:

    lrdist_head.safetensors   weight [num_labels, hidden], bias [num_labels]
    lrdist_head.json          {"format": "lrdist-head", "head": "cls",
                               "input": "last_hidden_state[:, 0]", "num_labels",
                               "id2label", "label2id", "problem_type",
                               "classifier_dropout", ...}

`load(folder)` returns the model (in eval mode) and its tokenizer; the model's forward
takes what the tokenizer gives and returns an output whose `.logits` are lrdist's (within
float rounding; crates/train/tests/save_fixture.rs checks 1e-4 on 32 GLUE rows):

    import sys; sys.path.insert(0, "python")
    from lrdist_head import load

    model, tokenizer = load("saved/pair/mrpc")
    batch = tokenizer(["A man plays."], ["Someone plays music."], padding=True,
                      return_tensors="pt")
    logits = model(**batch).logits          # [1, 2]
    model.config.id2label                   # {0: "0", 1: "1"}

A folder saved with `--head pooler` is a plain `BertForSequenceClassification` folder and
needs no helper (`AutoModelForSequenceClassification.from_pretrained(folder)`); `load`
accepts it too and returns that model.

From the shell, `python python/lrdist_head.py FOLDER --text "..." [--text-pair "..."]`
prints one JSON line per text, as `lrdist predict` does: {"label", "probabilities"}, or
{"value"} for a regression head.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

import torch
from safetensors.torch import load_file
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertModel,
    PreTrainedTokenizerBase,
)
from transformers.modeling_outputs import SequenceClassifierOutput

__all__ = ["HEAD_CONFIG_FILE", "LrdistClsClassifier", "load", "load_cls", "predict"]

HEAD_CONFIG_FILE = "lrdist_head.json"
HEAD_FORMAT = "lrdist-head"


class LrdistClsClassifier(torch.nn.Module):
    """A `BertModel` and a linear head on its last layer's [CLS] vector, as lrdist trains
    it: dropout (training only), then `classifier(last_hidden_state[:, 0])`."""

    def __init__(self, bert: BertModel, classifier: torch.nn.Linear, dropout: float,
                 problem_type: str, id2label: dict[int, str]):
        super().__init__()
        self.bert = bert
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = classifier
        self.config = bert.config
        self.config.id2label = dict(id2label)
        self.config.label2id = {name: i for i, name in id2label.items()}
        self.config.problem_type = problem_type

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, **kwargs: Any) -> SequenceClassifierOutput:
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                           token_type_ids=token_type_ids, **kwargs).last_hidden_state
        logits = self.classifier(self.dropout(hidden[:, 0]))
        return SequenceClassifierOutput(logits=logits)


def load_cls(folder: str | os.PathLike, **from_pretrained: Any) -> LrdistClsClassifier:
    """The `cls` classifier in `folder` (eval mode). Keyword arguments go to
    `BertModel.from_pretrained` (e.g. `attn_implementation="eager"`). Every encoder tensor
    of the folder must load: only a missing pooler is allowed (the head does not read it)."""
    folder = os.fspath(folder)
    with open(os.path.join(folder, HEAD_CONFIG_FILE), encoding="utf-8") as f:
        head = json.load(f)
    if head.get("format") != HEAD_FORMAT or head.get("head") != "cls":
        raise ValueError(f"{folder}/{HEAD_CONFIG_FILE}: not an lrdist cls head: {head}")
    bert, info = BertModel.from_pretrained(folder, output_loading_info=True, **from_pretrained)
    missing = [k for k in info["missing_keys"] if not k.startswith("pooler.")]
    bad = missing + list(info["unexpected_keys"]) + [str(m) for m in info["mismatched_keys"]]
    if bad:
        raise ValueError(f"{folder}: the BertModel does not load whole: {bad}")
    tensors = load_file(os.path.join(folder, head["weights"]))
    weight, bias = tensors["weight"], tensors["bias"]
    if list(weight.shape) != [head["num_labels"], head["hidden_size"]]:
        raise ValueError(f"{folder}: head weight of shape {list(weight.shape)}, "
                         f"{head['num_labels']} labels need [{head['num_labels']}, {head['hidden_size']}]")
    classifier = torch.nn.Linear(head["hidden_size"], head["num_labels"])
    with torch.no_grad():
        classifier.weight.copy_(weight)
        classifier.bias.copy_(bias)
    id2label = {int(i): name for i, name in head["id2label"].items()}
    model = LrdistClsClassifier(bert, classifier.to(bert.dtype), head["classifier_dropout"],
                                head["problem_type"], id2label)
    return model.eval()


def load(folder: str | os.PathLike, **from_pretrained: Any
         ) -> tuple[torch.nn.Module, PreTrainedTokenizerBase]:
    """The classifier (eval mode) and tokenizer of a folder lrdist saved: a `cls` folder
    through `load_cls`, a `pooler` folder (or any BertForSequenceClassification folder)
    through `AutoModelForSequenceClassification`."""
    folder = os.fspath(folder)
    if os.path.isfile(os.path.join(folder, HEAD_CONFIG_FILE)):
        model = load_cls(folder, **from_pretrained)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(folder, **from_pretrained).eval()
    return model, AutoTokenizer.from_pretrained(folder)


def predict(model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, texts: list[str],
            pairs: list[str] | None = None, max_length: int = 128) -> list[dict[str, Any]]:
    """What `lrdist predict` writes for each text: {"label", "probabilities"} (labels in
    class order) or, for a regression head, {"value"}."""
    batch = tokenizer(texts, pairs, padding=True, truncation=True, max_length=max_length,
                      return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits.double()
    names = [model.config.id2label[i] for i in range(logits.shape[1])]
    problem = model.config.problem_type
    if problem == "regression" or (problem is None and logits.shape[1] == 1):
        return [{"value": row[0].item()} for row in logits]
    out = []
    for row in logits:
        probabilities = torch.softmax(row, dim=0)
        out.append({"label": names[int(row.argmax())],
                    "probabilities": dict(zip(names, probabilities.tolist()))})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a folder written by lrdist --save")
    parser.add_argument("--text", action="append", required=True, help="a text (repeat for several)")
    parser.add_argument("--text-pair", action="append", help="the second text of each --text")
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    if args.text_pair is not None and len(args.text_pair) != len(args.text):
        parser.error("give one --text-pair per --text")
    model, tokenizer = load(args.folder)
    for line in predict(model, tokenizer, args.text, args.text_pair, args.max_length):
        print(json.dumps(line))


if __name__ == "__main__":
    main()
