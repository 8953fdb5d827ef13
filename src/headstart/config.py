"""Typed dataclass configs. Field help texts become the CLI's --help (see cli/args.py).

Configs are plain data: strategies declare which dataclass they take (`config_cls`), and a config
file (JSON) or CLI flags fill it. `build_config` is the one place values are checked.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from .errors import ConfigError, expected


def opt(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with its --help text."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass
class LoopConfig:
    """Options of every gradient-descent training loop (classification and generation)."""

    epochs: int = opt(3, "passes over the training data (early stopping may end sooner)")
    batch_size: int = opt(32, "examples per optimisation step")
    lr: float = opt(1e-4, "peak learning rate of AdamW (1e-4 suits small encoders such as MiniLM; try 2e-5 to 5e-5 for base-size models)")
    weight_decay: float = opt(0.01, "AdamW weight decay (not applied to biases and LayerNorm)")
    schedule: Literal["linear", "cosine", "constant", "one-cycle", "slanted-triangular"] = opt(
        "linear", "learning-rate schedule: linear/cosine/constant after warmup, or one-cycle / slanted-triangular "
        "(their rise lasts warmup_ratio of the steps)")
    warmup_ratio: float = opt(0.1, "fraction of steps spent warming the learning rate up from 0")
    max_grad_norm: float = opt(1.0, "gradient clipping threshold (0 disables)")
    max_length: int = opt(128, "tokens kept per text; longer texts are truncated")
    patience: int = opt(2, "stop after this many evaluations without improvement on validation (0 disables)")
    evals_per_epoch: int = opt(1, "validation evaluations per epoch (for early stopping and best checkpoint)")
    valid_fraction: float = opt(0.1, "fraction of training data held out for validation when none is given")
    device: str = opt("auto", "'auto' (cuda if available, else cpu), 'cpu' or 'cuda'")


@dataclass
class TrainConfig(LoopConfig):
    """Options shared by every strategy that trains a transformer classifier with gradient descent."""

    min_steps: int = opt(100, "train for at least this many optimiser steps: tiny data sets get more epochs")
    lr_decay: float = opt(1.0, "layer-wise learning-rate decay: each layer further down trains at this factor "
                               "times the rate of the layer above (e.g. 0.8; 1 disables)")
    class_weight: Literal["none", "balanced"] = opt("none", "'balanced' weights the loss by inverse class frequency")


def field_help(cls: type) -> dict[str, str]:
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}


def build_config(cls: type, values: dict[str, Any] | None = None) -> Any:
    """Instantiate `cls` from a dict, converting and checking every value; unknown keys are errors."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(expected(f"options of {cls.__name__}: {', '.join(sorted(fields))}",
                                   f"unknown option(s) {unknown}", "Check the spelling (see --help)."))
    hints = typing.get_type_hints(cls)
    converted = {name: coerce(name, value, hints[name]) for name, value in values.items()}
    return cls(**converted)


def coerce(name: str, value: Any, annotation: Any) -> Any:
    """Convert a value (possibly a CLI string) to the annotated type, or raise ConfigError."""
    if value is None:  # an omitted optional positional stays "not given", never the string "None"
        return None
    origin = get_origin(annotation)
    if origin is Literal:
        choices = get_args(annotation)
        if value not in choices:
            raise ConfigError(expected(f"{name} one of {list(choices)}", repr(value), "Pick one of the choices."))
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if value is None or value == "none" and str not in args:
            return None
        return coerce(name, value, args[0])
    if origin in (list, tuple):
        (inner, *_) = get_args(annotation) or (str,)
        items = value.split(",") if isinstance(value, str) else list(value)
        return [coerce(name, v.strip() if isinstance(v, str) else v, inner) for v in items if v != ""]
    try:
        if annotation is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            return bool(value)
        if annotation in (int, float, str):
            if annotation is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return annotation(value)
    except (TypeError, ValueError):
        raise ConfigError(expected(f"{name} of type {annotation.__name__}", repr(value), "Fix the value.")) from None
    return value


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a JSON config file: {"strategy": ..., "backbone": ..., "options": {...}}."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(expected("a config file", f"no file at {path}", "Check the path.")) from None
    except json.JSONDecodeError as exc:
        raise ConfigError(expected("valid JSON", f"{exc.msg} at line {exc.lineno} of {path}", "Fix the file.")) from None
    if not isinstance(data, dict):
        raise ConfigError(expected("a JSON object", type(data).__name__, "Wrap the settings in {...}."))
    return data
