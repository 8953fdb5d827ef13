"""BLEU and chrF (sacrebleu) for translation; ROUGE-1/2/L F-measures (rouge-score) for summarization."""

from __future__ import annotations

from typing import Any, Callable, Sequence

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
