"""Generate argparse options from typed dataclasses: field help becomes --help (litgpt's args.py idea)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, Literal, get_args, get_origin

from ..config import bounds_text, build_config


def add_dataclass_args(parser: argparse.ArgumentParser | Any, cls: type, title: str | None = None) -> None:
    """One --flag per field; positional fields (metadata positional=True) become positional arguments."""
    group = parser.add_argument_group(title) if title else parser
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        annotation = hints[f.name]
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse %-formats help strings
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)  # type: ignore[misc]
        kwargs: dict[str, Any] = {"help": help_text, "default": argparse.SUPPRESS}
        if f.metadata.get("positional"):
            group.add_argument(f.name, metavar=f.name.upper(), help=help_text,  # positional
                               nargs="?" if f.default is not dataclasses.MISSING else None,
                               default=argparse.SUPPRESS if f.default is dataclasses.MISSING else default)
            continue
        flags = [f"--{f.name.replace('_', '-')}"] + list(f.metadata.get("aliases", ()))
        if get_origin(annotation) is Literal:
            kwargs["choices"] = list(get_args(annotation))
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif "choices" not in kwargs:
            kwargs["metavar"] = _metavar(annotation)
        if default is None and _optional_number(annotation):
            default = "auto"  # e.g. epochs: None lets the strategy choose
        shown = [f"default: {default}".replace("%", "%%")] if default not in (None, "") else []
        shown += [bounds_text(f)] if bounds_text(f) else []
        kwargs["help"] = f"{help_text} ({'; '.join(shown)})" if shown else help_text
        group.add_argument(*flags, dest=f.name, **kwargs)


def options_adder(*groups: type | tuple[type, str]):
    """A command's `add_arguments` that only adds the options of dataclasses (`(cls, title)` for a group)."""
    def add_arguments(parser: argparse.ArgumentParser, argv: list[str]) -> None:
        for group in groups:
            add_dataclass_args(parser, *(group if isinstance(group, tuple) else (group,)))
    return add_arguments


def collect(namespace: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The values the user actually gave for `cls`'s fields (defaults are left to the dataclass)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in vars(namespace).items() if k in names}


def parse_into(namespace: argparse.Namespace, cls: type, base: dict[str, Any] | None = None) -> Any:
    """A `cls` from `base` (e.g. a config file's values) and, winning over it, the flags the user gave."""
    return build_config(cls, {**(base or {}), **collect(namespace, cls)})


def _optional_number(annotation: Any) -> bool:
    args = set(get_args(annotation))
    return type(None) in args and bool(args & {int, float})


def _metavar(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        annotation = [a for a in get_args(annotation) if a is not type(None)][0]
    return {int: "N", float: "X", str: "TEXT"}.get(annotation, "VALUE")
