"""Macro averages over the classes present in the rows scored (scikit-learn's own default), with a note
naming the classes the model knows that these rows lack."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import f1_score

from headstart.evaluation.metrics import classification_metrics, multilabel_metrics


def test_a_class_absent_from_a_small_split_does_not_count_as_zero():
    # the reported case: every row right, accuracy 1.0, yet macro-F1 0.8333 because a known class had no rows
    classes = ["anger", "fear", "joy", "love", "sadness", "surprise"]
    y = ["anger"] * 5 + ["fear"] * 5 + ["joy"] * 10 + ["love"] * 4 + ["sadness"] * 5  # 29 rows, no 'surprise'
    m = classification_metrics(y, list(y), classes)
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0
    assert m["absent_classes"] == ["surprise"] and "5 of 6 classes" in m["note"] and "surprise" in m["note"]
    assert m["per_class"]["surprise"] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert m["confusion_matrix"]["labels"] == classes  # the matrix still shows every known class


def test_macro_matches_sklearn_over_true_and_predicted_labels():
    classes = ["a", "b", "c", "d"]
    y_true = ["a", "a", "b", "b", "b"]
    y_pred = ["a", "c", "b", "b", "a"]  # 'c' is predicted but never true: it counts (precision 0), as in sklearn
    m = classification_metrics(y_true, y_pred, classes)
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
    assert m["absent_classes"] == ["d"] and m["per_class"]["c"]["f1"] == 0.0


def test_no_note_when_every_class_occurs():
    m = classification_metrics(["a", "b", "a"], ["a", "b", "b"], ["a", "b"])
    assert "note" not in m and "absent_classes" not in m
    assert m["macro_f1"] == pytest.approx(f1_score(["a", "b", "a"], ["a", "b", "b"], average="macro"))


def test_multilabel_macro_skips_columns_with_no_true_or_predicted_label():
    classes = ["x", "y", "z"]
    y_true = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    y_pred = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0]])
    m = multilabel_metrics(y_true, y_pred, classes)
    assert m["macro_f1"] == 1.0 and m["micro_f1"] == 1.0
    assert m["absent_classes"] == ["z"] and m["per_class"]["z"]["f1"] is None
    y_pred[0, 2] = 1  # now 'z' is predicted once, wrongly: it counts again
    m = multilabel_metrics(y_true, y_pred, classes)
    assert "absent_classes" not in m
    assert m["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, average="macro", zero_division=0))
