"""One shared matrix over every registered strategy (peft's TEST_CASES idea): the registry decides
what is tested, so a new strategy is covered the moment it registers: label strategies through
`TextClassifier` (and `export --onnx` for those with a torch module), generation strategies through
`Seq2SeqModel` on tiny random models."""

from __future__ import annotations

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.cli import main
from headstart.generation import Seq2SeqModel
from headstart.serving.export import OnnxClassifier
from headstart.strategies import exports_torch, get_strategy, registered, strategy_names
from headstart.tasks import CLASSIFIER_TASK_NAMES, GENERATION_TASK_NAMES

from ..generation.conftest import FAST as GENERATION_FAST
from ..generation.conftest import PAIRS, tiny_decoder  # noqa: F401 (a fixture)

# Small, fast settings per option name; strategies ignore options they do not have.
FAST = {"epochs": 2, "min_steps": 0, "batch_size": 16, "max_length": 32, "lr": 1e-3, "triplets_per_example": 2}


def fast_options(name: str) -> dict:
    import dataclasses

    fields = {f.name for f in dataclasses.fields(get_strategy(name).config_cls)}
    return {k: v for k, v in FAST.items() if k in fields}


def make_task_data(small_data, task: str):
    train, test = small_data
    texts, labels = train.text.tolist(), train.label.tolist()
    if task == "multilabel":
        labels = [[l] + (["long"] if len(t) > 100 else []) for t, l in zip(texts, labels)]
    elif task == "regression":
        labels = [float(len(t.split())) / 10 + (1.0 if l == "positive" else 0.0) for t, l in zip(texts, labels)]
    return texts, labels, test.text.tolist()


def label_cases() -> list[tuple[str, str]]:
    """(strategy, task) for every registered label strategy and each task it declares."""
    return [(cls.name, task) for cls in registered() for task in cls.tasks if task in CLASSIFIER_TASK_NAMES]


CASES = label_cases()
GENERATION_CASES = [(cls.name, task) for cls in registered() for task in cls.tasks if task in GENERATION_TASK_NAMES]


@pytest.mark.parametrize("name,task", CASES, ids=[f"{n}-{t}" for n, t in CASES])
def test_fit_predict_save_load(name, task, tiny_backbone, small_data, tmp_path):
    texts, labels, test_texts = make_task_data(small_data, task)
    clf = TextClassifier(backbone=tiny_backbone, strategy=name, task=task, seed=0, progress=False,
                         **fast_options(name)).fit(texts, labels)
    scores = clf.decision_scores(test_texts)
    assert len(scores) == len(test_texts)
    assert np.all(np.isfinite(scores))
    if task == "classification":
        assert scores.shape == (len(test_texts), len(clf.classes_))
        np.testing.assert_allclose(scores.sum(1), 1.0, atol=1e-5)
        assert set(clf.predict(test_texts)) <= set(clf.classes_)
    elif task == "multilabel":
        assert scores.shape == (len(test_texts), len(clf.classes_))
        assert all(isinstance(row, list) for row in clf.predict(test_texts))
    if getattr(get_strategy(name), "needs_examples", True):  # zero-shot trains nothing
        assert clf.fit_report_.trainable_parameters > 0

    clf.save(tmp_path / "model")
    loaded = TextClassifier.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.decision_scores(test_texts), scores, atol=1e-5)
    if task == "regression":  # re-embedding in other batch shapes moves floats in the 7th digit
        np.testing.assert_allclose(loaded.predict(test_texts), clf.predict(test_texts), rtol=1e-5)
    else:
        assert loaded.predict(test_texts) == clf.predict(test_texts)
    if exports_torch(get_strategy(name)):  # every strategy with a torch module exports, parity checked
        assert main(["export", str(tmp_path / "model"), "--onnx", "--parity-texts", "16"]) == 0
        np.testing.assert_allclose(OnnxClassifier(tmp_path / "model" / "onnx").decision_scores(test_texts),
                                   loaded.decision_scores(test_texts), atol=1e-4)


@pytest.mark.parametrize("name,task", GENERATION_CASES, ids=[f"{n}-{t}" for n, t in GENERATION_CASES])
def test_generation_fit_generate_save_load(name, task, tiny_decoder, tmp_path):  # noqa: F811 (the fixture)
    sources, targets = [s for s, _ in PAIRS], [t for _, t in PAIRS]
    model = Seq2SeqModel(task=task, backbone=tiny_decoder, strategy=name, progress=False, **GENERATION_FAST)
    model.fit(sources * 4, targets * 4, sources, targets)
    outputs = model.predict(sources)
    assert len(outputs) == len(sources) and all(isinstance(o, str) for o in outputs)
    assert model.fit_report_["steps"] == (12 if get_strategy(name, task).trains else 0)
    model.save(tmp_path / "m")
    assert Seq2SeqModel.load(tmp_path / "m").predict(sources) == outputs


@pytest.mark.parametrize("name", strategy_names())
def test_same_seed_same_model(name, tiny_backbone, small_data):
    texts, labels, test_texts = make_task_data(small_data, "classification")
    runs = [TextClassifier(backbone=tiny_backbone, strategy=name, seed=3, progress=False, **fast_options(name))
            .fit(texts, labels).decision_scores(test_texts[:20]) for _ in range(2)]
    np.testing.assert_allclose(runs[0], runs[1], atol=1e-6)


# On the tiny model's random weights the pooled [CLS] features barely depend on the text (their spread across
# texts is ~2e-4), so strategies that keep every weight matrix frozen cannot separate classes there; they are
# checked on the real model in tests/strategies/test_toolbox_real.py instead.
FROZEN_ON_RANDOM_WEIGHTS = {"head-only": "only the head trains", "bitfit": "only biases and the head train"}
# Low-rank adapters start at zero: on random weights they need a larger step to move within 20 epochs.
LEARN_OPTIONS = {"lora": {"lr": 1e-2}}


@pytest.mark.parametrize("name", [n for n in strategy_names() if get_strategy(n).needs_backbone
                                  and getattr(get_strategy(n), "needs_examples", True)])
def test_strategy_learns_something(name, tiny_backbone):
    """On a trivially separable task every strategy must beat chance clearly (guards against no-op fits)."""
    if name in FROZEN_ON_RANDOM_WEIGHTS:
        pytest.skip(f"{FROZEN_ON_RANDOM_WEIGHTS[name]}: random frozen features carry no signal (real-model test)")
    rng = np.random.default_rng(0)
    pos = ["good great fine " + " ".join(rng.choice(["a", "b", "c"], 3)) for _ in range(60)]
    neg = ["bad awful poor " + " ".join(rng.choice(["a", "b", "c"], 3)) for _ in range(60)]
    texts, labels = pos + neg, ["pos"] * 60 + ["neg"] * 60
    options = fast_options(name)
    if "epochs" in options:
        fields = {f.name for f in __import__("dataclasses").fields(get_strategy(name).config_cls)}
        options.update({k: v for k, v in {"epochs": 20, "patience": 0}.items() if k in fields})
    options.update(LEARN_OPTIONS.get(name, {}))
    clf = TextClassifier(backbone=tiny_backbone, strategy=name, seed=0, progress=False, **options).fit(texts, labels)
    assert clf.score(texts, labels) >= 0.9
