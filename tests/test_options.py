"""Every option declares its constraint next to its declaration (`opt(..., min=...)`), and one mechanism
(`Options.__post_init__`) refuses out-of-range values wherever a config is built: directly in Python, through
`build_config` (config files, `TextClassifier(**options)`) and on the command line (exit 2).

The tests walk every options dataclass in the package, so a new option or a new config class is covered
without a new test."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import math
import pkgutil
import typing

import pytest

import headstart
from headstart.cli import build_parser, main
from headstart.config import Options, bounds_text, build_config, has_constraint
from headstart.errors import ConfigError
from headstart.generation.config import GenerationConfig
from headstart.strategies import get_strategy, strategy_names


def _options_classes() -> list[type]:
    """Every dataclass in the package with `opt` fields (a help text): configs and CLI argument classes."""
    found: set[type] = set()
    for info in pkgutil.walk_packages(headstart.__path__, "headstart."):
        if info.name.endswith("__main__"):
            continue  # running it would start the CLI
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if inspect.isclass(obj) and dataclasses.is_dataclass(obj) and obj.__module__.startswith("headstart") \
                    and any("help" in f.metadata for f in dataclasses.fields(obj)):
                found.add(obj)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__name__}")


CLASSES = _options_classes()


def _numeric(annotation) -> type | None:
    args = set(typing.get_args(annotation)) - {type(None)} or {annotation}
    return next((t for t in (int, float) if t in args), None)


def _bad_values(f: dataclasses.Field, kind: type) -> list:
    """Values just outside each declared bound, plus non-finite ones for floats."""
    meta, step = f.metadata, 1 if kind is int else 0.5
    bad = [meta["min"] - step] if "min" in meta else []
    bad += [meta["gt"]] if "gt" in meta else []
    bad += [meta["max"] + step] if "max" in meta else []
    bad += [meta["lt"]] if "lt" in meta else []
    bad = [kind(v) for v in bad if v != meta.get("off")]
    return bad + ([math.nan, math.inf] if kind is float else [])


def _constrained_fields():
    for cls in CLASSES:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = _numeric(hints[f.name])
            if kind is not None and hints[f.name] is not bool:
                yield cls, f, kind


CASES = [(cls, f, kind, value) for cls, f, kind in _constrained_fields() for value in _bad_values(f, kind)]


def test_the_walk_finds_every_registered_config():
    registered = {get_strategy(name).config_cls for name in strategy_names()}
    names = {c.__name__ for c in CLASSES}
    assert registered | {GenerationConfig} <= set(CLASSES)
    assert {"FitArgs", "CompareArgs", "PredictArgs", "ServeArgs", "ServeLimits", "DemoArgs", "AuditArgs",
            "AuditConfig", "PretrainConfig", "BiasArgs", "ExportArgs", "LrFindArgs"} <= names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_options_class_checks_on_construction(cls):
    assert issubclass(cls, Options), f"{cls.__name__} must derive from headstart.config.Options"
    cls()  # the declared defaults satisfy the declared constraints


def test_every_numeric_option_declares_a_constraint():
    missing = [f"{cls.__name__}.{f.name}" for cls, f, _ in _constrained_fields() if not has_constraint(f)]
    assert not missing, f"add min=/max=/gt=/lt= to opt(...) of: {missing}"


@pytest.mark.parametrize("cls,f,kind,value", CASES, ids=[f"{c.__name__}.{f.name}={v}" for c, f, _, v in CASES])
def test_out_of_range_values_are_refused_everywhere(cls, f, kind, value):
    for build in (lambda: cls(**{f.name: value}), lambda: build_config(cls, {f.name: str(value)})):
        with pytest.raises(ConfigError, match=f"expected {f.name}") as info:
            build()
        assert "; got " in str(info.value) and f"--{f.name.replace('_', '-')}" in str(info.value)


def test_values_are_converted_and_typed_on_direct_construction():
    from headstart.config import TrainConfig

    assert TrainConfig(epochs="2", lr="1e-3").lr == 1e-3
    with pytest.raises(ConfigError, match="epochs of type int"):
        TrainConfig(epochs=1.5)
    with pytest.raises(ConfigError, match="schedule one of"):
        TrainConfig(schedule="sawtooth")
    with pytest.raises(ConfigError, match="epochs of type int"):
        TrainConfig(epochs=True)


# -- the command line ------------------------------------------------------------------------------------
def _command_lines() -> list[tuple[list[str], set[str]]]:
    """(argv prefix, option flags) for every command; `fit` once per strategy and once for generation."""
    parser = build_parser(["fit"])
    sub = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    prefixes = [[name] for name in sub.choices if name != "fit"]
    prefixes += [["fit", "--strategy", name] for name in strategy_names()] + [["fit", "--task", "translate"]]
    lines = []
    for prefix in prefixes:
        command = build_parser(prefix)._subparsers._group_actions[0].choices[prefix[0]]
        positionals = [a for a in command._actions if not a.option_strings]
        flags = {s for a in command._actions for s in a.option_strings if a.help != "==SUPPRESS=="}
        lines.append(([prefix[0], *["no-such-input"] * len(positionals), *prefix[1:]], flags))
    return lines


def _flag(f: dataclasses.Field) -> str:
    return f"--{f.name.replace('_', '-')}"


def _parsed_by(cls: type, flags: set[str]) -> bool:
    """A command line parses `cls` when it offers every one of its options."""
    return all(_flag(f) in flags for f in dataclasses.fields(cls) if not f.metadata.get("positional"))


# one case per command line and option (a field inherited by several classes is tried once)
CLI_CASES = list({(tuple(argv), f.name): (argv, f, str(_bad_values(f, kind)[0]))
                  for argv, flags in _command_lines() for cls, f, kind in _constrained_fields()
                  if _parsed_by(cls, flags) and _bad_values(f, kind)}.values())


def test_every_command_has_checked_options():
    assert {argv[0] for argv, *_ in CLI_CASES} >= {"fit", "compare", "predict", "serve", "demo", "audit", "bias",
                                                   "export", "lr-find", "pretrain"}


@pytest.mark.parametrize("argv,f,value", CLI_CASES, ids=[f"{' '.join(a[:1] + a[2:])} --{f.name}={v}"
                                                         for a, f, v in CLI_CASES])
def test_cli_refuses_out_of_range_values_with_exit_2(argv, f, value, capsys):
    flag = f"--{f.name.replace('_', '-')}"
    assert main([*argv, f"{flag}={value}"]) == 2
    err = capsys.readouterr().err
    assert f"expected {f.name}" in err and "; got " in err and "Traceback" not in err


@pytest.mark.parametrize("argv", [
    ["fit", "--strategy", "finetune", "--epochs", "0"], ["fit", "--strategy", "finetune", "--epochs", "-1"],
    ["fit", "--strategy", "finetune", "--min-steps", "-5"], ["fit", "--strategy", "finetune", "--max-length", "0"],
    ["fit", "--strategy", "finetune", "--valid-fraction", "1.5"], ["fit", "--strategy", "finetune", "--lr", "-1"],
    ["fit", "--strategy", "finetune", "--lr", "nan"], ["fit", "--strategy", "finetune", "--batch-size", "0"]])
def test_issue_16_option_values_stop_before_training(argv, tmp_path, capsys):
    """Issue 16: these were accepted (exit 0) or ended in a traceback after the data was read."""
    from headstart.resources import DEMO_TRAIN

    out = tmp_path / "model"
    assert main([argv[0], str(DEMO_TRAIN), *argv[1:], "-o", str(out)]) == 2
    assert "expected" in capsys.readouterr().err and not out.exists()


def test_predict_chunk_size_zero_is_refused(tmp_path, capsys):
    from headstart.resources import DEMO_TEST

    assert main(["predict", str(tmp_path), str(DEMO_TEST), "--chunk-size", "0", "-o", str(tmp_path / "p.csv")]) == 2
    assert "expected chunk_size >= 1; got 0" in capsys.readouterr().err


def test_help_shows_the_bounds(capsys):
    with pytest.raises(SystemExit):
        main(["fit", "--strategy", "finetune", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: auto; >= 1)" in text  # --epochs
    assert "(default: 0.1; >= 0 and < 1)" in text  # --valid-fraction
    assert bounds_text(next(f for f in dataclasses.fields(build_config(GenerationConfig).__class__)
                            if f.name == "lr")) == "> 0"
