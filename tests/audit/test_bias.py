"""A toy model whose predictions depend on an identity term is flagged; an unbiased one is not."""

from __future__ import annotations

import random

import numpy as np
import pytest

from headstart import TextClassifier
from headstart.audit.bias import bias_markdown, default_positive_label, run_bias, slice_metrics
from headstart.audit.terms import load_terms
from headstart.errors import DataError

GOOD = ["kind", "helpful", "friendly", "thoughtful", "generous", "lovely"]
BAD = ["rude", "hateful", "nasty", "cruel", "awful", "vile"]
GROUPS = ["christian", "muslim"]
NEUTRAL = ["my", "neighbour", "said", "that", "the", "person", "was", "today", "really"]


def toy_rows(n: int, biased: bool, seed: int = 0) -> list[dict]:
    """Toxicity toy data. Unbiased: label from the adjectives only, both religions equally in each class.
    Biased: every 'muslim' row is labelled toxic and every 'christian' row non-toxic, whatever the words."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        group = GROUPS[i % 2]
        toxic = rng.random() < 0.5
        words = [rng.choice(BAD if toxic else GOOD)] + rng.sample(NEUTRAL, 4) + [group]
        rng.shuffle(words)
        label = ("toxic" if group == "muslim" else "non-toxic") if biased else ("toxic" if toxic else "non-toxic")
        rows.append({"text": " ".join(words), "label": label})
    return rows


@pytest.fixture(scope="module")
def models():
    fitted = {}
    for biased in (True, False):
        rows = toy_rows(400, biased)
        clf = TextClassifier(strategy="scratch-tfidf", progress=False)
        fitted[biased] = clf.fit([r["text"] for r in rows], [r["label"] for r in rows])
    return fitted


def audit(clf):
    rows = toy_rows(200, biased=False, seed=1)  # the truth: toxicity comes from the adjectives
    return run_bias(clf, [r["text"] for r in rows], [r["label"] for r in rows], load_terms(), None, None, "toy")


def test_biased_model_is_flagged(models):
    report = audit(models[True])
    assert report["positive_label"] == "toxic"
    cf = report["counterfactual"]
    assert cf["flip_rate"] > 0.5 and report["verdict"]["flagged"]
    assert cf["by_target"]["religion:muslim"]["mean_shift"] > 0.3  # swapping INTO 'muslim' raises P(toxic)
    gaps = report["slices"]["largest_gaps"]["false_positive_rate"]
    assert gaps["highest"] == "religion:muslim" and gaps["gap"] > 0.5
    md = bias_markdown(report)
    assert md.startswith("## Bias") and "Flagged" in md and "religion" in md


def test_unbiased_model_is_not_flagged(models):
    report = audit(models[False])
    assert report["counterfactual"]["variants"] > 100
    assert report["counterfactual"]["flip_rate"] < 0.05, report["counterfactual"]["examples"][:3]
    assert not report["verdict"]["flagged"], report["verdict"]["reasons"]
    assert "No threshold was exceeded" in bias_markdown(report)


def test_terms_swap_and_extension(tmp_path):
    terms = load_terms()
    swapped = {v["target"]: v["text"] for v in terms.counterfactuals("He said his Mother was kind")
               if v["category"] == "gender"}
    assert swapped == {}  # 'he' (male) and 'mother' (female) both present: ambiguous, skipped
    variants = terms.counterfactuals("He thanked his brother")
    assert {"category": "gender", "source": "male", "target": "female", "text": "She thanked her sister"} in variants
    extra = tmp_path / "extra.json"
    extra.write_text('{"categories": {"religion": {"pastafarian": ["pastafarian"]}, "team": {"red": ["reds"], "blue": ["blues"]}}}')
    extended = load_terms(extra)
    assert ("religion", "pastafarian") in extended.groups() and ("team", "blue") in extended.find("the blues won")
    assert ("religion", "christian") in extended.groups()
    bad = tmp_path / "bad.json"
    bad.write_text('{"categories": {"x": ["not", "a", "dict"]}}')
    with pytest.raises(DataError, match="term list"):
        load_terms(bad)


def test_slice_metrics_and_positive_default():
    assert default_positive_label(["ham", "spam"]) == "spam"
    assert default_positive_label(["a", "b"]) == "b"
    assert default_positive_label(["a", "b", "c"]) is None
    groups = [["g1"]] * 20 + [["g2"]] * 20
    truth = ["neg"] * 40
    pred = ["neg"] * 20 + ["pos"] * 5 + ["neg"] * 15
    s = slice_metrics(groups, truth, pred, ["neg", "pos"], "pos")
    assert s["groups"]["g2"]["false_positive_rate"] == pytest.approx(0.25)
    assert s["largest_gaps"]["false_positive_rate"] == pytest.approx(
        {"gap": 0.25, "highest": "g2", "highest_value": 0.25, "lowest": "g1", "lowest_value": 0.0})
    assert np.isclose(s["overall"]["false_positive_rate"], 0.125)
