"""Planted data problems are found by the audit, and --fix drops/relabels exactly what it lists."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest

from headstart.audit import AuditConfig, audit_data, audit_section_html, write_audit
from headstart.audit.labels import rank_label_issues
from headstart.audit.quality import noise_kind, similar_pairs

from .conftest import synthetic_reviews


def checks_of(audit):
    return {c["name"]: c for c in audit["checks"]}


def test_similar_pairs_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    x[17] = x[3]  # a planted duplicate vector
    sims = x @ x.T
    expected = {(i, j) for i in range(300) for j in range(i + 1, 300) if sims[i, j] >= 0.9}
    got = {(i, j) for i, j, _ in similar_pairs(x, None, 0.9, block=64)}
    assert got == expected and (3, 17) in got
    cross = {(i, j) for i, j, _ in similar_pairs(x[:50], x[50:], 0.9, block=16)}
    assert cross == {(i, j - 50) for i in range(50) for j in range(50, 300) if sims[i, j] >= 0.9}


@pytest.mark.parametrize("text,kind", [("http://a.b/c www.d.com", "url only"), ("<p><b></b></p>", "markup"),
                                        ("12 34 56 78 a", "mostly digits"), ("!!! ??? ...", "no letters"),
                                        ("a fine film, see http://x.y", None), ("5 stars", None)])
def test_noise_kinds(text, kind):
    assert noise_kind(text) == kind


def test_planted_problems_are_found_and_fixed(planted, tiny_backbone, tmp_path):
    train, test, plan = planted
    config = AuditConfig(backbone=tiny_backbone, fix=True, label_errors=False, near_threshold=0.9999)
    audit = audit_data(str(train), str(test), config=config, progress=False)
    c = checks_of(audit)
    assert set(plan["exact_dup"]) <= set(c["exact_duplicates"]["rows"])
    assert c["exact_duplicates"]["count"] == 3  # two planted copies + the conflicting copy
    assert set(plan["conflict"]) == set(c["conflicting_labels"]["rows"])
    assert set(plan["leaked_train"]) == set(c["leakage"]["rows"]) and c["leakage"]["count"] == 2
    assert set(plan["noise"]) == set(c["noise"]["rows"])
    assert set(plan["empty"]) <= set(c["short_texts"]["rows"]) and c["short_texts"]["empty"] == 1
    assert c["label_errors"]["severity"] == "skipped"
    written = write_audit(audit, tmp_path / "audit", config)
    changes = pd.read_csv(written["changes"], keep_default_na=False)
    cleaned = pd.read_csv(written["cleaned"], keep_default_na=False)
    original = pd.read_csv(train, keep_default_na=False)
    dropped = set(changes[changes.action == "drop"].row)
    assert dropped == set(plan["exact_dup"]) | set(plan["conflict"]) | set(plan["leaked_train"]) | \
        set(plan["noise"]) | set(plan["empty"])
    assert len(cleaned) == len(original) - len(dropped)
    assert pd.read_csv(train, keep_default_na=False).equals(original)  # input untouched
    assert all(changes.reason.str.len() > 0)
    report = pd.io.json.read_json(written["audit"], typ="series")
    assert report["fix"]["dropped"] == len(dropped) and report["format"] == "headstart-audit"
    fragment = audit_section_html(audit)
    assert fragment.startswith("<section") and "conflicting labels" in fragment and "<script" not in fragment


def test_long_texts_counted_in_backbone_tokens(tmp_path, tiny_backbone):
    rows = synthetic_reviews(40)
    rows[0]["text"] = " ".join(["great film"] * 200)
    path = tmp_path / "long.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    audit = audit_data(str(path), config=AuditConfig(backbone=tiny_backbone, max_length=64, label_errors=False),
                       progress=False)
    long = checks_of(audit)["long_texts"]
    from transformers import AutoTokenizer

    n_tokens = len(AutoTokenizer.from_pretrained(tiny_backbone)(rows[0]["text"])["input_ids"])
    assert n_tokens > 400  # 200 x two words, at least one token each, plus [CLS]/[SEP]
    assert long["rows"] == [0] and long["tokens_truncated"] == n_tokens - 64
    assert long["examples"][0]["tokens"] == n_tokens


def test_near_duplicates_found(tmp_path, tiny_backbone):
    rows = synthetic_reviews(60)
    rows.append({"text": rows[4]["text"] + " !", "label": rows[4]["label"]})
    path = tmp_path / "near.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    audit = audit_data(str(path), config=AuditConfig(backbone=tiny_backbone, label_errors=False, near_threshold=0.99),
                       progress=False)
    near = checks_of(audit)["near_duplicates"]
    assert 60 in near["rows"], near["examples"]


def flip(rows, fraction, seed):
    rng = random.Random(seed)
    flipped = sorted(rng.sample(range(len(rows)), int(len(rows) * fraction)))
    other = {"positive": "negative", "negative": "positive"}
    for i in flipped:
        rows[i]["label"] = other[rows[i]["label"]]
    return flipped


def test_flipped_labels_ranked_first_tiny_backbone(tmp_path, tiny_backbone):
    """On lexically separable data even the random tiny encoder's features expose flipped labels."""
    rows = synthetic_reviews(300)
    flipped = flip(rows, 0.1, seed=3)
    path = tmp_path / "flipped.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    audit = audit_data(str(path), config=AuditConfig(backbone=tiny_backbone, near_threshold=0.9999), progress=False)
    check = checks_of(audit)["label_errors"]
    top = [r["row"] for r in check["ranked"][: len(flipped)]]
    precision = len(set(top) & set(flipped)) / len(flipped)
    assert precision >= 0.6, (precision, check["oof_accuracy"])
    assert all(r["suggested_label"] != rows[r["row"]]["label"] for r in check["ranked"][:10])


def test_finetune_label_method_trains_per_fold(tmp_path, tiny_backbone):
    """'finetune' averages the ensemble with a fine-tune per fold: 3 folds by default, described in the audit."""
    rows = synthetic_reviews(120)
    flipped = flip(rows, 0.1, seed=4)
    path = tmp_path / "flipped.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    audit = audit_data(str(path), config=AuditConfig(backbone=tiny_backbone, near_threshold=0.9999,
                                                     label_method="finetune"), progress=False)
    check = checks_of(audit)["label_errors"]
    assert check["folds"] == 3 and "fine-tune" in audit["label_error_method"]
    top = [r["row"] for r in check["ranked"][: len(flipped)]]
    assert len(set(top) & set(flipped)) / len(flipped) >= 0.5


def test_rank_label_issues_uses_probabilities():
    y = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.05, 0.95], [0.2, 0.8], [0.1, 0.9]])
    flagged, scores = rank_label_issues(y, probs)
    assert flagged[0] == 1 and scores.argmin() == 1


@pytest.mark.real_model
@pytest.mark.slow
def test_flipped_labels_found_on_demo_sample(tmp_path, demo_frames):
    """The real encoder on the shipped sample with 10% flipped labels (the benchmark in miniature)."""
    rows = demo_frames[0].to_dict("records")
    flipped = flip(rows, 0.1, seed=0)
    path = tmp_path / "demo_flipped.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    audit = audit_data(str(path), config=AuditConfig(), progress=False)
    ranked = [r["row"] for r in checks_of(audit)["label_errors"]["ranked"]]
    scores = np.asarray(checks_of(audit)["label_errors"]["quality_scores"])
    top = np.argsort(scores, kind="stable")[: len(rows) // 10].tolist()
    # the benchmark's targets are 0.6/0.5; cheap out-of-fold models reach about 0.58 precision on full SST-2
    # (see benchmarks/audit.py), so this guards against regressions rather than asserting the target
    assert len(set(top) & set(flipped)) / len(top) >= 0.5
    assert len(set(ranked) & set(flipped)) / len(flipped) >= 0.5
