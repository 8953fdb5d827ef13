"""Outside `strategies/` and the task registry, no source line names a strategy by its string: code asks the strategy's traits
(`pretrained`, `cost`, `needs_examples`, `torch_module`) or refers to its class (`Finetune.name`)."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

import headstart
from headstart.strategies import registered

SRC = Path(headstart.__file__).resolve().parent
# A parameter's or option's default value may be a strategy's name (`strategy: str = opt("probe", ...)`).
DEFAULT_VALUE = re.compile(r"\bstrategy: str = (opt\()?$")
# Values of other options that happen to equal a strategy's name, with why they are not one.
ALLOWED = {("audit/core.py", "finetune"): "a value of the audit's own --label-method option"}


def string_literals(path: Path):
    """(line number, text before the literal on its line, value) of every plain string literal in the file."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.STRING and token.string[:1] in "'\"":
            row, col = token.start
            yield row, lines[row - 1][:col], ast.literal_eval(token.string)


def test_no_strategy_name_outside_strategies():
    names = {cls.name for cls in registered()}
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.startswith("strategies/") or relative == "tasks.py":  # the task registry names defaults
            continue
        for row, before, value in string_literals(path):
            if value in names and not DEFAULT_VALUE.search(before) and (relative, value) not in ALLOWED:
                found.append(f"{relative}:{row}: {value!r}")
    assert not found, "ask the strategy's traits instead of naming it:\n" + "\n".join(found)


def test_the_check_sees_names(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('x = "probe"\nstrategy: str = opt("probe", "help")\n', encoding="utf-8")
    literals = list(string_literals(sample))
    assert [(row, value) for row, _, value in literals] == [(1, "probe"), (2, "probe"), (2, "help")]
    assert [bool(DEFAULT_VALUE.search(before)) for _, before, _ in literals] == [False, True, False]
