"""`audit_data`: run every data check on a labelled file and return one self-describing dict;
`write_audit`: write audit.json (and, with fixes, a cleaned copy plus a changes list) atomically."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..backbones import DEFAULT_BACKBONE, load_tokenizer, resolve_backbone
from ..config import MIN_TOKENS, Options, opt
from ..data import read_examples
from ..data.readers import read_frame
from ..embeddings import embed
from ..errors import ConfigError, expected
from ..estimators import load_estimator
from ..grid import without_cross_validation
from ..io import atomic_write_text, read_json, write_json
from ..model_folder import CLASSIFIER_KIND
from ..runtime import RUNTIME_HELP, RuntimeName, resolve_runtime
from ..progress import progress_enabled
from ..strategies import Cost, get_strategy
from ..strategies.finetune import Finetune
from . import labels as label_checks
from . import quality

AUDIT_FORMAT = "headstart-audit"
AUDIT_VERSION = 1


@dataclass
class AuditConfig(Options):
    """Options of `headstart audit` (and of `audit_data`)."""

    backbone: str = opt("", "backbone for embeddings and token counts (default: the --model's, else the default encoder)")
    near_threshold: float = opt(0.95, "cosine similarity at or above which two texts count as near duplicates",
                                  gt=0, max=1)
    max_length: int = opt(0, "token limit for the long-text check (0: the --model's max_length, else the tokenizer's, "
                             "at most 512)", min=MIN_TOKENS, off=0)
    min_words: int = opt(2, "texts with fewer words than this count as very short", min=0)
    tiny_class: int = opt(10, "classes with fewer rows than this are reported as tiny", min=0)
    imbalance_ratio: float = opt(10.0, "largest/smallest class size ratio reported as imbalance", min=1)
    label_errors: bool = opt(True, "run the cross-validated label-error check")
    label_method: Literal["auto", "ensemble", "logistic", "finetune", "model"] = opt(
        "auto", "out-of-fold predictor: 'ensemble' (mean of logistic regression on embeddings and on TF-IDF; "
        "about a minute for 7k rows on 2 cores), 'logistic' (embeddings only), 'finetune' (the ensemble averaged "
        "with a 1-epoch fine-tune of the backbone per fold: more precise, several minutes on CPU) or 'model' "
        "(the --model's own strategy); auto: the model's if its folds are cheap (no gradient training, e.g. probe, "
        "scratch-tfidf), else ensemble")
    folds: int = opt(0, "cross-validation folds for the label-error check (0: 3 with --label-method finetune, else 5)",
                      min=2, off=0)
    examples: int = opt(5, "examples listed per check", min=0)
    fix: bool = opt(False, "write a cleaned copy and a changes list next to audit.json (the input is never changed)")
    label_fix: Literal["relabel", "drop", "none"] = opt("relabel", "what --fix does with likely label errors")
    drop_near_duplicates: bool = opt(False, "with --fix, also drop near duplicates (keeps the first of each group)")
    seed: int = opt(0, "seed of the cross-validation folds", min=0)
    batch_size: int = opt(64, "texts embedded per forward pass", min=1)
    runtime: RuntimeName = opt("auto", RUNTIME_HELP)


def audit_data(data: str, test: str | None = None, model: str | None = None, config: AuditConfig | None = None,
               text_col: str = "text", label_col: str = "label", progress: bool = True) -> dict[str, Any]:
    """Run every check on `data` (and leakage against `test`); returns the audit as a JSON-ready dict."""
    config = config or AuditConfig()  # its fields were checked when it was built (near_threshold, folds, ...)
    started = time.perf_counter()
    timings: dict[str, float] = {}
    clf = load_estimator(model, kinds=(CLASSIFIER_KIND,)) if model else None
    meta = clf.metadata_ if clf is not None else {}
    train = read_examples(data, text_col, label_col, "auto")
    test_examples = read_examples(test, text_col, label_col, "auto", require_labels=False) if test else None
    backbone_name = config.backbone or (meta.get("backbone") or {}).get("name") or DEFAULT_BACKBONE
    ref = resolve_backbone(backbone_name)
    n = config.examples
    labels = train.labels
    unusable = label_checks.check_labels_usable(labels, train.task)
    checks: list[dict[str, Any]] = []

    tokenizer = load_tokenizer(ref)
    positions = _position_limit(ref)
    model_length = int(getattr(getattr(clf, "config_", None), "max_length", 0) or 0)
    max_tokens = config.max_length or model_length or \
        min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512, positions or 512)
    embed_length = min(256, positions or 256)  # 256 = the probe's default, so their caches are shared

    # resolved (and exported) before any check runs, so a refused --runtime stops the audit at once
    runtime = resolve_runtime(ref, config.runtime) if ref.kind == "encoder" else None
    with progress_enabled(progress):
        t = time.perf_counter()
        vectors = test_vectors = None
        if runtime is not None:
            vectors = embed(ref, train.texts, batch_size=config.batch_size, max_length=embed_length, progress=progress,
                            runtime=runtime)
            if test_examples is not None:
                test_vectors = embed(ref, test_examples.texts, batch_size=config.batch_size, max_length=embed_length,
                                     progress=progress, runtime=runtime)
        timings["embeddings"] = time.perf_counter() - t

        t = time.perf_counter()
        dup_checks, groups = quality.duplicate_checks(train.texts, labels if unusable is None else None, vectors,
                                                      config.near_threshold, n)
        checks += dup_checks
        if test_examples is not None:
            checks.append(quality.leakage_check(train.texts, test_examples.texts, vectors, test_vectors,
                                                config.near_threshold, n))
        timings["duplicates_and_leakage"] = time.perf_counter() - t

        t = time.perf_counter()
        if unusable is None:
            checks += quality.balance_checks(labels, config.imbalance_ratio, config.tiny_class)
        checks.append(quality.short_text_check(train.texts, config.min_words, n))
        lengths = quality.token_lengths(tokenizer, train.texts)
        checks.append(quality.long_text_check(train.texts, lengths, max_tokens, ref.name, n))
        checks.append(quality.noise_check(train.texts, n))
        timings["text_checks"] = time.perf_counter() - t

        t = time.perf_counter()
        method = "none"
        if not config.label_errors or unusable is not None:
            why = "switched off (--no-label-errors)" if not config.label_errors else unusable
            checks.append(quality.skipped_check("label_errors", "likely label errors", why))
        else:
            factory, method = _predictor(config, clf, meta, train.texts, labels, vectors, ref)
            checks.append(label_checks.label_error_check(train.texts, labels, factory, _folds(config), config.seed,
                                                         n, method))
        timings["label_errors"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started

    return {
        "format": AUDIT_FORMAT, "version": AUDIT_VERSION,
        "about": "Data audit by `headstart audit`. Each check has a count, severity (ok/warning/problem/skipped), "
                 "a suggested action, examples and the affected 0-based data row numbers (header not counted).",
        "data": {"path": str(data), "rows": len(train), "task": train.task, "text_col": text_col, "label_col": label_col,
                 "classes": train.classes() if unusable is None else [],
                 "label_counts": dict(Counter(map(str, labels)).most_common()) if unusable is None else {}},
        "test": {"path": str(test), "rows": len(test_examples)} if test_examples is not None else None,
        "model": model or None, "backbone": {"name": ref.name, "fingerprint": ref.fingerprint(),
                                                 "runtime": runtime},
        "label_error_method": method, "config": dataclasses.asdict(config),
        "summary": {"problems": sum(c["severity"] == "problem" for c in checks),
                    "warnings": sum(c["severity"] == "warning" for c in checks),
                    "rows_flagged": len({r for c in checks if c["severity"] in ("problem", "warning")
                                         and c["name"] not in ("class_imbalance", "tiny_classes", "leakage")
                                         for r in c["rows"]})},
        "checks": checks, "seconds": {k: round(v, 3) for k, v in timings.items()},
        "_groups": groups,  # removed before writing; used by --fix
    }


def _position_limit(ref: Any) -> int | None:
    """max_position_embeddings of a Hugging Face folder (None when unknown)."""
    config_path = Path(ref.path) / "config.json"
    if not config_path.is_file():
        return None
    value = read_json(config_path).get("max_position_embeddings")
    return int(value) if isinstance(value, int) and value > 0 else None


def _folds(config: AuditConfig) -> int:
    return config.folds or (3 if config.label_method == "finetune" else 5)


def _cheap_to_refit(strategy: str) -> bool:
    """Per-fold refits cost little (no gradient training) and learn from the labels: probe, scratch-tfidf, ..."""
    return get_strategy(strategy).cost is not Cost.GRADIENT and get_strategy(strategy).needs_examples


def _predictor(config: AuditConfig, clf: Any, meta: dict[str, Any], texts: list[str], labels: list[Any],
               vectors: np.ndarray | None, ref: Any):
    use_model = clf is not None and (config.label_method == "model" or
                                     (config.label_method == "auto" and _cheap_to_refit(clf.strategy)))
    if config.label_method == "model" and clf is None:
        raise ConfigError(expected("--model with --label-method model", "no --model", "Pass --model runs/m1."))
    if use_model:
        options = without_cross_validation(clf.strategy, {k: v for k, v in meta.get("config", {}).items()
                                                          if k != "cv_folds"})
        params = {"backbone": (meta.get("backbone") or {}).get("name", DEFAULT_BACKBONE), "strategy": clf.strategy,
                  "seed": config.seed, **options}
        return (lambda y, classes: label_checks.classifier_fit_predict(params, texts, labels, classes),
                f"{_folds(config)}-fold {clf.strategy} (from the model)")
    encoder = ref.name
    if vectors is None:  # a decoder backbone: embed with the default encoder instead
        vectors, encoder = embed(resolve_backbone(DEFAULT_BACKBONE), texts, batch_size=config.batch_size,
                                 max_length=256, runtime=config.runtime), DEFAULT_BACKBONE
    if config.label_method == "logistic":
        return (lambda y, classes: label_checks.logistic_fit_predict(vectors, y, len(classes)),
                f"{_folds(config)}-fold logistic regression on {encoder} embeddings")

    def ensemble(y: np.ndarray, classes: list[str]) -> label_checks.FitPredict:
        return label_checks.averaged_fit_predict(label_checks.logistic_fit_predict(vectors, y, len(classes)),
                                                 label_checks.tfidf_fit_predict(texts, y, len(classes)))

    described = f"{_folds(config)}-fold mean of logistic regression on {encoder} embeddings and on TF-IDF 1-2-grams"
    if config.label_method == "finetune":
        # One epoch only: on noisy labels a network fits the clean majority first and memorises the flipped rows
        # late, so a short fine-tune is both cheaper and a better judge of which labels are wrong.
        trainable = ref.kind == "encoder" and ref.fmt == "hf"  # an ONNX-only or decoder backbone: the default encoder
        tuned = {"backbone": str(ref.path) if trainable else DEFAULT_BACKBONE, "strategy": Finetune.name,
                 "epochs": 1, "min_steps": 0, "max_length": 64, "valid_fraction": 0.0, "seed": config.seed}
        return (lambda y, classes: label_checks.averaged_fit_predict(
            ensemble(y, classes), label_checks.classifier_fit_predict(tuned, texts, labels, classes)),
            f"{described}, averaged with a 1-epoch fine-tune of {ref.name if trainable else DEFAULT_BACKBONE}")
    return ensemble, described


# -- fixes ----------------------------------------------------------------------------------------------
def plan_fixes(audit: dict[str, Any], config: AuditConfig) -> tuple[dict[int, str], dict[int, tuple[str, str]]]:
    """(rows to drop -> reason, rows to relabel -> (new label, reason)) from the audit's findings."""
    checks = {c["name"]: c for c in audit["checks"]}
    labels_known = bool(audit["data"]["classes"])
    drop: dict[int, str] = {}
    relabel: dict[int, tuple[str, str]] = {}

    def add(rows: list[int], reason: str) -> None:
        for r in rows:
            drop.setdefault(int(r), reason)

    if "leakage" in checks:
        add(checks["leakage"]["rows"], "appears in the test file (leakage)")
    short = checks.get("short_texts")
    if short:
        add([r for r in short["rows"] if not audit["_texts"][r].strip()], "empty text")
    if "noise" in checks:
        for r, kind in checks["noise"].get("row_kinds", {}).items():
            drop.setdefault(int(r), f"non-text noise ({kind})")
    groups = audit.get("_groups", {})
    for g in groups.get("exact", []):
        votes = Counter(_label(audit, r) for r in g)
        if labels_known and len(votes) > 1:  # conflicting labels
            winner, top = votes.most_common(1)[0]  # the first of equal counts, as the rows come
            if top * 2 > len(g):
                keep = next(r for r in g if _label(audit, r) == winner)
                add([r for r in g if r != keep], f"conflicting duplicate of row {keep} (majority label '{winner}' kept)")
            else:
                add(g, f"exact duplicates with conflicting labels and no majority ({dict(votes)})")
        else:
            add(g[1:], f"exact duplicate of row {g[0]}")
    if config.drop_near_duplicates:
        for g in groups.get("near", []):
            add(g[1:], f"near duplicate of row {g[0]}")
    label_check = checks.get("label_errors")
    if label_check and config.label_fix != "none" and label_check["severity"] != "skipped":
        for item in label_check.get("ranked", []):
            r = int(item["row"])
            if r in drop:
                continue
            reason = (f"likely label error: '{_label(audit, r)}' has probability {item['label_probability']}, "
                      f"suggested '{item['suggested_label']}'")
            if config.label_fix == "relabel":
                relabel[r] = (item["suggested_label"], reason)
            else:
                drop[r] = reason
    return drop, relabel


def _label(audit: dict[str, Any], row: int) -> str:
    return str(audit["_labels"][row])


def write_audit(audit: dict[str, Any], out_dir: str | Path, config: AuditConfig) -> dict[str, Path]:
    """Write audit.json and, with `config.fix`, `<stem>.cleaned.csv` and `changes.csv`; each file atomically."""
    out = Path(out_dir)
    written: dict[str, Path] = {}
    public = {k: v for k, v in audit.items() if not k.startswith("_")}
    if config.fix:
        frame = read_frame(audit["data"]["path"])
        texts = frame[audit["data"]["text_col"]].astype(str).tolist()
        label_col = audit["data"]["label_col"]
        labels = frame[label_col].astype(str).tolist() if label_col in frame.columns else [""] * len(frame)
        audit = {**audit, "_texts": texts, "_labels": labels}
        drop, relabel = plan_fixes(audit, config)
        import pandas as pd

        changes = [{"row": r, "action": "drop", "reason": why, "label": labels[r], "new_label": "", "text": texts[r]}
                   for r, why in drop.items()]
        changes += [{"row": r, "action": "relabel", "reason": why, "label": labels[r], "new_label": new,
                     "text": texts[r]} for r, (new, why) in relabel.items()]
        changes.sort(key=lambda c: c["row"])
        cleaned = frame.copy()
        for r, (new, _) in relabel.items():
            cleaned.iat[r, cleaned.columns.get_loc(label_col)] = new
        cleaned = cleaned.drop(index=cleaned.index[sorted(drop)])
        stem = Path(audit["data"]["path"]).name.split(".")[0]
        written["cleaned"] = out / f"{stem}.cleaned.csv"
        written["changes"] = out / "changes.csv"
        atomic_write_text(written["cleaned"], cleaned.to_csv(index=False))
        atomic_write_text(written["changes"], pd.DataFrame(
            changes, columns=["row", "action", "reason", "label", "new_label", "text"]).to_csv(index=False))
        public["fix"] = {"cleaned": str(written["cleaned"]), "changes": str(written["changes"]),
                         "rows_in": len(frame), "rows_out": len(cleaned), "dropped": len(drop),
                         "relabelled": len(relabel), "label_fix": config.label_fix}
    written["audit"] = out / "audit.json"
    write_json(written["audit"], public)  # last: its presence means the other files are complete
    return written
