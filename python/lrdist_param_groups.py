"""lrdist learning-rate distributions as torch.optim.AdamW parameter groups (torch only).

`lrdist export-param-groups` writes a distribution as JSON parameter groups of a Hugging
Face `BertForSequenceClassification`, with the parameter names transformers uses:

    target/release/lrdist export-param-groups --distribution paper-combined \\
        --weight-decay 0.01 --model models/all-MiniLM-L6-v2 --output param_groups.json

    [{"lr": 3.295e-06, "weight_decay": 0.01,
      "params": ["bert.embeddings.position_embeddings.weight", ...]}, ...]

Each parameter has the rate lrdist gives its depth (embeddings 0, encoder layer i at
i + 1, pooler and classifier at L + 1), and biases and LayerNorm parameters have weight
decay 0. `load_param_groups(path, model)` puts the model's tensors in place of the names
and checks that every trainable parameter of the model is in exactly one group, so that
none trains at AdamW's default rate by mistake:

    import torch
    from transformers import BertForSequenceClassification, Trainer, TrainingArguments
    from lrdist_param_groups import load_param_groups

    model = BertForSequenceClassification.from_pretrained("models/all-MiniLM-L6-v2", num_labels=2)
    optimizer = torch.optim.AdamW(load_param_groups("param_groups.json", model))
    trainer = Trainer(model=model, args=TrainingArguments(output_dir="out"),
                      train_dataset=train_dataset, optimizers=(optimizer, None))

With `None` for the scheduler the Trainer makes its own (`lr_scheduler_type`, linear by
default with `warmup_steps`), which scales every group's rate by the same factor, so the
ratios between depths hold throughout. `TrainingArguments.learning_rate` and
`weight_decay` are not used when an optimizer is passed in: the file's values are.

Only the Python standard library and torch are needed; the model may be any
`torch.nn.Module` whose `named_parameters()` names match the file.
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable

import torch

__all__ = ["ParamGroupsError", "read_param_groups", "param_groups", "load_param_groups"]

# How many names an error message lists before it says "and N more".
_SHOWN = 8


class ParamGroupsError(ValueError):
    """The groups file and the model do not match, or the file is malformed."""


def _names(names: Iterable[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:_SHOWN])
    more = len(names) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def read_param_groups(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Reads and checks the JSON written by `lrdist export-param-groups`: a list of
    `{"lr": float, "weight_decay": float, "params": [str, ...]}`."""
    with open(path, encoding="utf-8") as f:
        groups = json.load(f)
    if not isinstance(groups, list):
        raise ParamGroupsError(f"{path}: expected a JSON list of parameter groups")
    for k, group in enumerate(groups):
        ok = (
            isinstance(group, dict)
            and set(group) == {"lr", "weight_decay", "params"}
            and all(isinstance(group[key], (int, float)) for key in ("lr", "weight_decay"))
            and isinstance(group["params"], list)
            and all(isinstance(name, str) for name in group["params"])
        )
        if not ok:
            raise ParamGroupsError(
                f'{path}: group {k} is not {{"lr": number, "weight_decay": number, '
                f'"params": [names]}}'
            )
    return groups


def param_groups(
    groups: list[dict[str, Any]], model: torch.nn.Module, source: str = "the groups"
) -> list[dict[str, Any]]:
    """AdamW parameter groups of `model` from `groups` (as `read_param_groups` returns
    them): each group's names replaced by the model's tensors, with its `lr` and
    `weight_decay`.

    Raises `ParamGroupsError` when a name is not a parameter of the model, when a name
    is in more than one group (or twice in one), or when a trainable parameter of the
    model is in no group. Frozen parameters (`requires_grad=False`) named in the file are
    left out, and groups left empty are dropped.
    """
    named = dict(model.named_parameters())
    where: dict[str, int] = {}
    unknown, twice = set(), set()
    for k, group in enumerate(groups):
        for name in group["params"]:
            if name not in named:
                unknown.add(name)
            elif name in where:
                twice.add(name)
            where.setdefault(name, k)
    kind = type(model).__name__
    if unknown:
        raise ParamGroupsError(
            f"{source}: {len(unknown)} names are not parameters of this {kind}: "
            f"{_names(unknown)} (was the file exported for another model?)"
        )
    if twice:
        raise ParamGroupsError(
            f"{source}: {len(twice)} parameters are named more than once: {_names(twice)}"
        )
    missing = {n for n, p in named.items() if p.requires_grad and n not in where}
    if missing:
        raise ParamGroupsError(
            f"{source}: {len(missing)} trainable parameters of this {kind} are in no "
            f"group: {_names(missing)} (was the file exported for another model?)"
        )
    out = []
    for group in groups:
        tensors = [named[n] for n in group["params"] if named[n].requires_grad]
        if tensors:
            out.append(
                {
                    "params": tensors,
                    "lr": float(group["lr"]),
                    "weight_decay": float(group["weight_decay"]),
                }
            )
    return out


def load_param_groups(path: str | os.PathLike, model: torch.nn.Module) -> list[dict[str, Any]]:
    """`param_groups(read_param_groups(path), model)`: the AdamW parameter groups of
    `model` from a file of `lrdist export-param-groups`, for
    `torch.optim.AdamW(load_param_groups(path, model))`."""
    return param_groups(read_param_groups(path), model, source=os.fspath(path))
