"""The task registry: one object per task, and no task named by its string outside it."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from headstart import tasks
from headstart.errors import ConfigError, DataError
from headstart.strategies import get_strategy, strategy_names
from headstart.tasks import CLASSIFICATION, CLASSIFIER_TASKS, GENERATION_TASKS, MULTILABEL, REGRESSION, SUMMARIZE

SRC = Path(tasks.__file__).parent


def _task_name_literals(path: Path, root: Path = SRC.parent) -> list[str]:
    """`file:line` of every string literal that is exactly a task name. Allowed: the registry itself,
    `tasks = (...)` declarations in strategies/ and `__all__` lists (which name functions, e.g. `summarize`)."""
    names = set(tasks.task_names())
    tree = ast.parse(path.read_text(encoding="utf-8"))
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            target_names = {t.id for t in targets if isinstance(t, ast.Name)}
            if "__all__" in target_names or ("tasks" in target_names and "strategies" in path.parts):
                allowed.update(id(n) for n in ast.walk(node))
    return [f"{path.relative_to(root)}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in names and id(node) not in allowed]


def test_no_task_name_literal_outside_the_registry():
    found = [hit for path in sorted(SRC.rglob("*.py")) if path != Path(tasks.__file__)
             for hit in _task_name_literals(path)]
    assert not found, "ask headstart.tasks instead of naming a task:\n" + "\n".join(found)


def test_the_check_sees_a_task_name(tmp_path):
    module = tmp_path / "module.py"
    module.write_text('__all__ = ["summarize"]\n\ndef f(task):\n    return task == "regression"\n')
    assert _task_name_literals(module, tmp_path) == ["module.py:4: 'regression'"]


def test_every_task_is_registered_once_with_what_it_owns():
    assert tasks.task_names() == ["classification", "multilabel", "regression", "translate", "summarize"]
    for task in (*CLASSIFIER_TASKS, *GENERATION_TASKS):
        assert tasks.get_task(task.name) is task
        assert len(task.columns) == 2
    assert all(task.primary_metric in task.metrics for task in CLASSIFIER_TASKS)
    assert [t.problem_type for t in CLASSIFIER_TASKS] == ["single_label_classification",
                                                         "multi_label_classification", "regression"]
    assert not any(t.generation for t in CLASSIFIER_TASKS) and all(t.generation for t in GENERATION_TASKS)
    assert SUMMARIZE.columns == ("document", "summary") and CLASSIFICATION.columns == ("text", "label")


def test_default_strategies_exist_and_support_their_task():
    for task in CLASSIFIER_TASKS:
        assert task.name in get_strategy(task.default_strategy).tasks
        assert task.default_strategy in strategy_names(task.name)
    # generation strategies are in the same registry (strategies/seq2seq.py)
    assert all(task.default_strategy in strategy_names(task.name) for task in GENERATION_TASKS)


def test_unknown_names_are_errors_that_list_the_tasks():
    with pytest.raises(ConfigError, match="classification, multilabel, regression, translate, summarize"):
        tasks.get_task("ranking")
    with pytest.raises(DataError, match="task one of classification, multilabel, regression"):
        tasks.label_task("translate")
    with pytest.raises(ConfigError, match="a generation task"):
        tasks.generation_task("classification")
    assert tasks.is_generation("summarize") and not tasks.is_generation(tasks.AUTO)
    assert not tasks.is_generation(None)


def test_labels_encode_and_decode_back():
    classes = ["a", "b", "c"]
    y = CLASSIFICATION.encode(["c", "a"], classes)
    assert y.dtype == np.int64 and CLASSIFICATION.decode(np.eye(3)[y], classes) == ["c", "a"]
    y = MULTILABEL.encode([["a", "c"], []], classes)
    assert y.tolist() == [[1, 0, 1], [0, 0, 0]] and MULTILABEL.decode(y, classes) == [["a", "c"], []]
    assert REGRESSION.decode(REGRESSION.encode([1.5, -2.0], []), []) == [1.5, -2.0]
    assert REGRESSION.empty_scores(classes).shape == (0,) and MULTILABEL.empty_scores(classes).shape == (0, 3)
    assert [t.n_outputs(classes) for t in CLASSIFIER_TASKS] == [3, 3, 1]


def test_labels_are_parsed_and_grouped_per_task():
    assert CLASSIFICATION.parse_labels([1.0, "x", 2]) == ["1", "x", "2"]
    assert MULTILABEL.parse_labels([["b", "a", "b"], "c"]) == [["a", "b"], ["c"]]
    assert REGRESSION.parse_labels(["1.5", 2]) == [1.5, 2.0]
    with pytest.raises(DataError, match="numeric labels for regression"):
        REGRESSION.parse_labels(["high"])
    assert MULTILABEL.classes([["b"], ["a", "b"]]) == ["a", "b"] and REGRESSION.classes([1.0]) == []
    assert MULTILABEL.strata([["a", "b"], []]) == ["a", ""] and REGRESSION.strata([1.0, 2.0]) == [0, 0]
    assert tasks.infer_task([["a"], ["b"]]) is MULTILABEL and tasks.infer_task([1, 2]) is CLASSIFICATION


def test_loss_and_activation_follow_the_task():
    torch = pytest.importorskip("torch")
    logits = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    assert torch.allclose(CLASSIFICATION.activate(logits).sum(-1), torch.ones(2))
    assert torch.allclose(MULTILABEL.activate(logits), torch.sigmoid(logits))
    assert REGRESSION.activate(logits[:, :1]).shape == (2,)
    assert CLASSIFICATION.target_tensor(np.array([0, 1])).dtype == torch.long
    assert MULTILABEL.target_tensor(np.eye(2)).dtype == torch.float32
    ce = CLASSIFICATION.loss(logits, torch.tensor([0, 1]))
    assert torch.isclose(ce, torch.nn.functional.cross_entropy(logits, torch.tensor([0, 1])))
    assert float(REGRESSION.loss(logits[:, :1], torch.tensor([2.0, 0.0]))) == 0.0
    assert MULTILABEL.validation_score(np.array([[0.9, 0.1]]), np.array([[1.0, 0.0]])) == 1.0
    assert REGRESSION.validation_score(np.array([1.0]), np.array([3.0])) == -4.0
