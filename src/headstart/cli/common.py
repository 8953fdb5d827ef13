"""Options shared by several commands (text tables are `headstart.tables`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..config import Options, opt
from ..data import read_examples
from ..data.examples import Examples
from ..data.pipeline import from_flags
from ..errors import ConfigError, expected
from ..tasks import AUTO, CLASSIFICATION, CLASSIFIER_TASK_NAMES, GENERATION_TASK_NAMES

TaskChoice = Literal[(AUTO, *CLASSIFIER_TASK_NAMES)]  # type: ignore[valid-type]  # --task: 'auto' or a registry task
ModelTaskChoice = Literal[(AUTO, *CLASSIFIER_TASK_NAMES, *GENERATION_TASK_NAMES)]  # type: ignore[valid-type]
AnyTaskChoice = ModelTaskChoice  # fit's and compare's --task: every task, so an unknown one is told them all


@dataclass
class ColumnArgs(Options):
    text_col: str = opt(CLASSIFICATION.columns[0], "column holding the text")
    label_col: str = opt(CLASSIFICATION.columns[1], "column holding the label(s)")
    task: TaskChoice = opt(
        AUTO, "the task; regression is never guessed, multilabel splits cells on --label-sep")
    label_sep: str = opt("|", "separator between labels in one cell, for --task multilabel")


@dataclass
class TrainingColumnArgs(ColumnArgs):
    """fit's and compare's columns. --task also names the generation tasks: those are routed to a parser of their
    own before this one is built (`kind_for_task` on the command line), so here they only complete the list an
    unknown --task is answered with."""

    task: AnyTaskChoice = opt(AUTO, "the task; regression is never guessed, multilabel splits cells on --label-sep; "
                                    "translate and summarize read source/target pairs (see --task translate --help)")


@dataclass
class ScoredColumnArgs(Options):
    """The columns of a file a saved model scores: its task is the model's own (`ModelTaskArgs` checks it)."""

    text_col: str = opt(CLASSIFICATION.columns[0], "column holding the text")
    label_col: str = opt(CLASSIFICATION.columns[1], "column holding the label(s)")
    label_sep: str = opt("|", "separator between labels in one cell (multilabel models)")


@dataclass
class ModelTaskArgs(Options):
    task: ModelTaskChoice = opt(AUTO, "the task MODEL must have been fitted for: checked, never changed (a model "
                                      "does only its own task); auto: whatever it was fitted for")


def check_model_task(requested: str, model_task: str, folder: str) -> None:
    """Refuse a --task other than the one the model at `folder` was fitted for (exit 2 with what to do)."""
    if requested not in (AUTO, model_task):
        raise ConfigError(expected(f"--task {model_task} (what {folder} was fitted for) or no --task",
                                   f"--task {requested}",
                                   f"A model does only the task it was fitted for: fit a {requested} model first "
                                   f"(headstart fit DATA --task {requested} -o FOLDER), or drop --task."))


@dataclass
class PreprocessArgs(Options):
    lowercase: bool = opt(False, "lower-case every text")
    normalize: bool = opt(False, "Unicode NFC and collapsed whitespace")
    strip_html: bool = opt(False, "remove HTML tags and unescape entities")
    drop_empty: bool = opt(False, "drop rows whose text is empty (otherwise they are an error)")
    min_chars: int = opt(0, "drop texts shorter than this many characters (0: keep all)", min=0)
    max_chars: int = opt(0, "drop texts longer than this many characters (0: keep all)", min=0)
    dedupe: bool = opt(False, "keep only the first row of each exact duplicate text")


def read_labelled(path: str, cols: ColumnArgs | ScoredColumnArgs, pre: PreprocessArgs | None = None,
                  task: str | None = None, quiet: bool = False) -> Examples:
    examples = read_examples(path, cols.text_col, cols.label_col, task or cols.task,  # type: ignore[union-attr]
                             cols.label_sep)
    if pre is not None:
        pipeline = from_flags(pre.lowercase, pre.normalize, pre.strip_html, pre.drop_empty, pre.min_chars,
                              pre.max_chars, pre.dedupe)
        if pipeline.steps:
            examples, dropped = pipeline(examples)
            dropped = {k: v for k, v in dropped.items() if v}
            if dropped and not quiet:
                print(f"preprocessing dropped rows: {dropped}")
    return examples
