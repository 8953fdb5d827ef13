"""BLEU and chrF (sacrebleu) for translation; ROUGE-1/2/L F-measures (rouge-score) for summarization."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..tasks import generation_task


def translation_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    import sacrebleu

    hyps, refs = list(hypotheses), [list(references)]
    return {"bleu": float(sacrebleu.corpus_bleu(hyps, refs).score),
            "chrf": float(sacrebleu.corpus_chrf(hyps, refs).score)}


def summarization_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean F-measure x 100 (the scale of BLEU and chrF), with Porter stemming as in the ROUGE paper."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    sums = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for hyp, ref in zip(hypotheses, references):
        for key, value in scorer.score(ref, hyp).items():
            sums[key] += value.fmeasure
    n = max(1, len(references))
    return {k: 100.0 * v / n for k, v in sums.items()}


FAMILIES: dict[str, Callable[[Sequence[str], Sequence[str]], dict[str, float]]] = {
    "translation": translation_metrics, "summarization": summarization_metrics}


def generation_metrics(task: str, hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """Every metric of the task plus `n`; every task also gets the other families, after its own, for comparison."""
    metrics: dict[str, Any] = {}
    for family in generation_task(task).metric_families:
        metrics.update(FAMILIES[family](hypotheses, references))
    metrics["n"] = len(references)
    return metrics


BOOTSTRAP_SAMPLES = 1000


def _sentence_rouge(name: str, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer([name], use_stemmer=True)
    return np.array([100.0 * scorer.score(r, h)[name].fmeasure for h, r in zip(hypotheses, references)])


def paired_bootstrap(metric: str, a: Sequence[str], b: Sequence[str], references: Sequence[str],
                     n_samples: int = BOOTSTRAP_SAMPLES) -> dict[str, float]:
    """Paired bootstrap resampling of `metric`(a) - `metric`(b) on the same references (Koehn 2004):
    sacrebleu's `_bootstrap_resample` for BLEU and chrF (corpus statistics recomputed per resample, one seed so
    both systems see the same resamples), the mean sentence F-measure for ROUGE. Returns the observed
    difference, the 95% interval of the resampled differences and the share of resamples where a <= b."""
    if not (len(a) == len(b) == len(references)) or not references:
        raise ValueError(f"paired_bootstrap needs outputs of both systems for the same references "
                         f"({len(a)}, {len(b)}, {len(references)})")
    if metric in ("bleu", "chrf"):
        import sacrebleu
        from sacrebleu.significance import _bootstrap_resample

        scorer = sacrebleu.BLEU() if metric == "bleu" else sacrebleu.CHRF()
        refs = [list(references)]
        stats_a = scorer._extract_corpus_statistics(list(a), refs)
        stats_b = scorer._extract_corpus_statistics(list(b), refs)
        observed = scorer.corpus_score(list(a), refs).score - scorer.corpus_score(list(b), refs).score
        diffs = np.array([x.score - y.score for x, y in zip(_bootstrap_resample(stats_a, scorer, n_samples)[1],
                                                            _bootstrap_resample(stats_b, scorer, n_samples)[1])])
    elif metric in ("rouge1", "rouge2", "rougeL"):
        per_row = _sentence_rouge(metric, a, references) - _sentence_rouge(metric, b, references)
        observed = float(per_row.mean())
        idx = np.random.default_rng(12345).choice(len(per_row), size=(n_samples, len(per_row)), replace=True)
        diffs = per_row[idx].mean(axis=1)
    else:
        raise ValueError(f"no paired bootstrap for metric {metric!r} (bleu, chrf, rouge1, rouge2, rougeL)")
    low, high = np.percentile(diffs, [2.5, 97.5])
    return {"diff": float(observed), "low": float(low), "high": float(high),
            "p_not_better": float(np.mean(diffs <= 0)), "samples": n_samples}
