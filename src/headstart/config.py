"""Typed dataclass configs. Field help texts become the CLI's --help (see cli/args.py).

Configs are plain data: strategies declare which dataclass they take (`config_cls`), and a config
file (JSON) or CLI flags fill it. Every option declares its constraint once, in `opt` next to its
declaration (`min`, `max`, `gt`, `lt`; floats must be finite; choices are `Literal` types), and every
options class derives from `Options`, whose `__post_init__` converts and checks each value: a config built
from the CLI, a JSON file, `build_config` or directly (`TrainConfig(lr=-1)`) is refused the same way, with
a `ConfigError`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args, get_origin

from .errors import ConfigError, expected

_BOUNDS = (("min", ">="), ("gt", ">"), ("max", "<="), ("lt", "<"))


def opt(default: Any, help: str, *, min: float | None = None, max: float | None = None, gt: float | None = None,
        lt: float | None = None, off: float | None = None, finite: bool = True, **kwargs: Any) -> Any:
    """A config field with its --help text and its constraint.

    min/max are inclusive bounds, gt/lt exclusive ones; `off` is one more accepted value outside them (the
    one that switches the option off or to its automatic choice, e.g. folds: 0, or >= 2). Float values must
    be finite unless `finite=False`. Other keywords (`positional`, `aliases`) are kept for the CLI."""
    meta = {"help": help, "finite": finite, **kwargs,
            **{k: v for k, v in (("min", min), ("max", max), ("gt", gt), ("lt", lt), ("off", off)) if v is not None}}
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def bounds_text(f: dataclasses.Field) -> str:
    """The declared range of a field, e.g. '>= 1', '> 0 and <= 1' or '0 or >= 2' ('' when unbounded)."""
    text = " and ".join(f"{sign} {f.metadata[key]:g}" for key, sign in _BOUNDS if key in f.metadata)
    return f"{f.metadata['off']:g} or {text}" if text and "off" in f.metadata else text


def has_constraint(f: dataclasses.Field) -> bool:
    return any(key in f.metadata for key, _ in _BOUNDS)


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def check_options(obj: Any) -> None:
    """Convert every field of a config dataclass to its annotated type and check its declared constraint."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = coerce(f.name, getattr(obj, f.name), hints[f.name])
        check_value(f, value)
        object.__setattr__(obj, f.name, value)  # also for frozen dataclasses


def check_value(f: dataclasses.Field, value: Any) -> None:
    """Raise ConfigError when a (converted) value breaks the field's declared range or is not finite."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value == f.metadata.get("off"):
        return
    flag = f"--{f.name.replace('_', '-')}"
    if isinstance(value, float) and f.metadata.get("finite", True) and not math.isfinite(value):
        raise ConfigError(expected(f"{f.name} to be a finite number {bounds_text(f)}".rstrip(), repr(value),
                                   f"Pass a number (CLI: {flag})."))
    meta = f.metadata
    broken = (("min" in meta and not value >= meta["min"]) or ("gt" in meta and not value > meta["gt"])
              or ("max" in meta and not value <= meta["max"]) or ("lt" in meta and not value < meta["lt"]))
    if broken:
        raise ConfigError(expected(f"{f.name} {bounds_text(f)}", repr(value),
                                   f"Choose a value {bounds_text(f)} (CLI: {flag}); see --help."))


class Options:
    """Base of every options dataclass: construction converts and checks each field (see `opt`)."""

    def __post_init__(self) -> None:
        check_options(self)


# Room for the special tokens ([CLS] ... [SEP]) and at least one token of text.
MIN_TOKENS = 4


@dataclass
class LoopConfig(Options):
    """Options of every gradient-descent training loop (classification and generation)."""

    epochs: int = opt(3, "passes over the training data (early stopping may end sooner)", min=1)
    batch_size: int = opt(32, "examples per optimisation step", min=1)
    lr: float = opt(1e-4, "peak learning rate of AdamW (1e-4 suits small encoders such as MiniLM; try 2e-5 to 5e-5 "
                          "for base-size models)", gt=0)
    weight_decay: float = opt(0.01, "AdamW weight decay (not applied to biases and LayerNorm)", min=0)
    schedule: Literal["linear", "cosine", "constant", "one-cycle", "slanted-triangular"] = opt(
        "linear", "learning-rate schedule: linear/cosine/constant after warmup, or one-cycle / slanted-triangular "
        "(their rise lasts warmup_ratio of the steps)")
    warmup_ratio: float = opt(0.1, "fraction of steps spent warming the learning rate up from 0", min=0, max=1)
    max_grad_norm: float = opt(1.0, "gradient clipping threshold (0 disables)", min=0)
    max_length: int = opt(128, "tokens kept per text; longer texts are truncated", min=MIN_TOKENS)
    patience: int = opt(2, "stop after this many evaluations without improvement on validation (0 disables)", min=0)
    evals_per_epoch: int = opt(1, "validation evaluations per epoch (for early stopping and best checkpoint)", min=1)
    valid_fraction: float = opt(0.1, "fraction of training data held out for validation when none is given "
                                     "(0: none)", min=0, lt=1)
    device: str = opt("auto", "'auto' (cuda if available, else cpu), 'cpu' or 'cuda'")


AUTO_EPOCHS_HELP = ("passes over the training data; unset (auto): {auto}, and more on small data sets so that at "
                    "least min_steps optimiser steps run; set: exactly this many (early stopping may end sooner)")


@dataclass
class TrainConfig(LoopConfig):
    """Options shared by every strategy that trains a transformer classifier with gradient descent."""

    # Epochs when the user sets none; stretched to reach min_steps (`training.loop.planned_epochs`).
    auto_epochs: ClassVar[int] = 3
    epochs: int | None = opt(None, AUTO_EPOCHS_HELP.format(auto=3), min=1)
    min_steps: int = opt(100, "when epochs is not set, train for at least this many optimiser steps (tiny data sets "
                              "get more epochs); also the earliest step early stopping may end training", min=0)
    lr_decay: float = opt(1.0, "layer-wise learning-rate decay: each layer further down trains at this factor "
                               "times the rate of the layer above (e.g. 0.8; 1 disables)", gt=0, max=1)
    class_weight: Literal["none", "balanced"] = opt("none", "'balanced' weights the loss by inverse class frequency")


def build_config(cls: type, values: dict[str, Any] | None = None) -> Any:
    """Instantiate `cls` from a dict (CLI strings or JSON values); unknown keys are errors, and the class's
    `Options.__post_init__` converts and checks every value."""
    values = dict(values or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(expected(f"options of {cls.__name__}: {', '.join(sorted(fields))}",
                                   f"unknown option(s) {unknown}", "Check the spelling (see --help)."))
    if not issubclass(cls, Options):  # plain dataclasses still get their values converted
        hints = _hints(cls)
        values = {name: coerce(name, value, hints[name]) for name, value in values.items()}
    return cls(**values)


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
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if isinstance(value, str) and value.lower() in ("none", "auto") and str not in args:
            return None  # "--epochs auto" asks for the automatic choice
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
        if annotation in (int, float) and isinstance(value, bool):
            raise ValueError(value)  # True is not a count
        if annotation in (int, float, str):
            if annotation is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return annotation(value)
    except (TypeError, ValueError, OverflowError):
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
