"""ONNX export of saved classifiers, with a parity check against PyTorch and optional int8 quantisation.

The exported graph maps (input_ids, attention_mask) straight to probabilities (softmax, sigmoid or the
raw value for regression), so a runtime needs only the tokenizer files written alongside and
onnxruntime. Every strategy that has a torch module (`torch_module`) exports: the sequence classifiers, and
the frozen-encoder ones as one graph of encoder, masked mean pooling, L2 normalisation and the dense head.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import __version__
from ..classifier import as_texts
from ..data.readers import read_frame
from ..errors import DataError, ModelError, expected
from ..estimators import load_estimator
from ..io import METADATA_FILE, atomic_folder, folder_digest, read_json, seal_metadata, verify_metadata, write_json
from ..model_folder import CLASSIFIER_KIND, check_file_hashes
from ..onnx_graph import export_graph, quantize_int8
from ..resources import DEMO_TEST
from ..strategies import TorchExport, exports_torch, get_strategy, strategy_names
from ..tasks import label_task

ONNX_METADATA = "headstart-onnx.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
# headstart-onnx.json fields that change predictions: covered by its recorded digest, refused at load if edited
SEALED_FIELDS = ("format", "task", "classes", "threshold", "max_length", "files", "files_int8")


@dataclass
class ExportReport:
    """What `export_onnx` measured; also written to the output folder's headstart-onnx.json."""

    folder: str
    parity_texts: int
    tolerance: float
    max_abs_diff: float
    int8_max_abs_diff: float | None = None
    int8_label_agreement: float | None = None
    accuracy: dict[str, float] = field(default_factory=dict)  # pytorch / onnx / int8 on the test file

    def lines(self) -> list[str]:
        out = [f"parity on {self.parity_texts} texts: max |p_onnx - p_torch| = {self.max_abs_diff:.2e} "
               f"(tolerance {self.tolerance:.0e})"]
        if self.int8_max_abs_diff is not None:
            out.append(f"int8: max |p_int8 - p_torch| = {self.int8_max_abs_diff:.3f}, "
                       f"same label on {100 * (self.int8_label_agreement or 0):.1f}% of texts")
        if self.accuracy:
            acc = ", ".join(f"{k} {v:.4f}" for k, v in self.accuracy.items())
            change = ""
            if "int8" in self.accuracy and "pytorch" in self.accuracy:
                change = f" (int8 change {100 * (self.accuracy['int8'] - self.accuracy['pytorch']):+.2f} points)"
            out.append(f"accuracy on the test file: {acc}{change}")
        out.append(f"written to {self.folder}")
        return out


def parity_texts(test: str | None, limit: int) -> tuple[list[str], list[Any] | None]:
    """Texts (and labels, when the file has them) for the parity check: --test or the shipped demo sample."""
    path = test or str(DEMO_TEST)
    frame = read_frame(path)
    if "text" not in frame.columns:
        raise DataError(expected("a 'text' column in the test file", f"columns {list(frame.columns)} in {path}",
                                 "Rename the text column to 'text'."))
    texts = [str(t) for t in frame["text"].tolist()]
    labels = frame["label"].tolist() if "label" in frame.columns else None
    return texts[:limit] if limit else texts, labels


def export_onnx(model_dir: str | Path, output: str | Path | None = None, *, int8: bool = False,
                test: str | None = None, tolerance: float = 1e-4, parity_limit: int = 64, opset: int = 17,
                accuracy_limit: int = 0) -> ExportReport:
    """Export a saved model to ONNX; raise ModelError (and write nothing) if parity with PyTorch fails.

    `test` gives the parity texts (its first `parity_limit` rows) and, when it has labels, the accuracy
    of PyTorch, ONNX and int8 on up to `accuracy_limit` rows (0 = all).
    """
    model_dir = Path(model_dir)
    clf = load_estimator(model_dir, kinds=(CLASSIFIER_KIND,))
    output = Path(output) if output else model_dir / "onnx"
    if not exports_torch(type(clf.strategy_)):  # strategies that have one torch module declare `torch_module`
        able = ", ".join(n for n in strategy_names() if exports_torch(get_strategy(n)))
        raise ModelError(expected(f"a model with a torch module ({able})", f"a '{clf.strategy}' model",
                                  f"ONNX export covers transformer models; '{clf.strategy}' models are already small "
                                  "and fast — serve them without --onnx."))
    graph: TorchExport = clf.strategy_.torch_module()
    texts, _ = parity_texts(test, parity_limit)
    with atomic_folder(output, kind="onnx") as tmp:
        export_graph(graph.module, graph.tokenizer, tmp / FP32_FILE, opset)
        graph.tokenizer.save_pretrained(tmp)
        meta = {"format": "headstart-onnx", "version": __version__, "task": clf.task_, "classes": clf.classes_,
                "threshold": clf.threshold, "max_length": graph.max_length, "source_model": str(model_dir),
                "source_metadata": {k: clf.metadata_.get(k) for k in ("strategy", "backbone", "metrics", "seed")},
                "files_int8": INT8_FILE if int8 else None}
        write_json(tmp / ONNX_METADATA, meta)
        onnx_clf = OnnxClassifier(tmp, verify=False)
        reference = clf.decision_scores(texts)
        diff = float(np.max(np.abs(onnx_clf.decision_scores(texts) - reference))) if texts else 0.0
        if not diff <= tolerance:
            raise ModelError(expected(f"ONNX probabilities within {tolerance:g} of PyTorch",
                                      f"a maximum difference of {diff:.3g} on {len(texts)} texts",
                                      "Nothing was written. Try another --opset, or report the model architecture."))
        report = ExportReport(folder=str(output), parity_texts=len(texts), tolerance=tolerance, max_abs_diff=diff)
        if int8:
            quantize_int8(tmp / FP32_FILE, tmp / INT8_FILE)
            q = OnnxClassifier(tmp, int8=True, verify=False)
            q_scores = q.decision_scores(texts)
            report.int8_max_abs_diff = float(np.max(np.abs(q_scores - reference))) if texts else 0.0
            if label_task(clf.task_).single_label and texts:
                report.int8_label_agreement = float(np.mean(q_scores.argmax(1) == reference.argmax(1)))
        if test:
            report.accuracy = _accuracies(clf, onnx_clf, tmp if int8 else None, test, accuracy_limit)
        meta["parity"] = asdict(report)
        meta["files"] = folder_digest(tmp, skip=(ONNX_METADATA,))
        write_json(tmp / ONNX_METADATA, seal_metadata(meta, SEALED_FIELDS))
    return report


def _accuracies(clf, onnx_clf, int8_folder: Path | None, test: str, limit: int) -> dict[str, float]:
    texts, labels = parity_texts(test, limit)
    if labels is None or not label_task(clf.task_).single_label:
        return {}
    models = {"pytorch": clf, "onnx": onnx_clf}
    if int8_folder is not None:
        models["int8"] = OnnxClassifier(int8_folder, int8=True, verify=False)
    return {name: float(np.mean([str(p) == str(y) for p, y in zip(model.predict(texts), labels)]))
            for name, model in models.items()}


class OnnxClassifier:
    """A classifier backed by onnxruntime: the exported graph plus its tokenizer.

    Same prediction surface as TextClassifier: `predict`, `predict_proba`, `decision_scores`,
    `scores_to_labels`, `classes_`, `task_`.
    """

    def __init__(self, folder: str | Path, int8: bool = False, threads: int = 0, verify: bool = True,
                 batch_size: int = 64) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.folder = Path(folder)
        meta_path = self.folder / ONNX_METADATA
        if not meta_path.exists():
            raise ModelError(expected(f"an ONNX export folder with {ONNX_METADATA}", f"none at {self.folder}",
                                      "Run `headstart export MODEL --onnx` first."))
        self.metadata_ = read_json(meta_path)
        if verify:
            verify_metadata(self.metadata_, SEALED_FIELDS, meta_path)
            check_file_hashes(self.folder, self.metadata_.get("files", {}),
                              f"ONNX files matching the hashes in {ONNX_METADATA}",
                              "The folder was modified or partly copied; export again.",
                              skip=(ONNX_METADATA, METADATA_FILE))
        file = INT8_FILE if int8 else FP32_FILE
        if not (self.folder / file).exists():
            raise ModelError(expected(f"{file} in {self.folder}", "no such file",
                                      "Export with --int8 to get the quantised model." if int8 else "Export again."))
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.folder / file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.task_ = self.metadata_["task"]
        self.classes_ = list(self.metadata_["classes"])
        self.threshold = float(self.metadata_.get("threshold", 0.5))
        self.max_length = int(self.metadata_["max_length"])
        self.batch_size = batch_size
        self.int8 = int8

    def decision_scores(self, texts: Sequence[str]) -> np.ndarray:
        texts = as_texts(texts)
        if not texts:
            return label_task(self.task_).empty_scores(self.classes_)
        # Sorting by length keeps padding (and so wasted compute) low inside each batch.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out: list[np.ndarray | None] = [None] * len(texts)
        for start in range(0, len(texts), self.batch_size):
            idx = order[start:start + self.batch_size]
            enc = self.tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="np")
            probs = self.session.run(["probabilities"], {"input_ids": enc["input_ids"].astype(np.int64),
                                                         "attention_mask": enc["attention_mask"].astype(np.int64)})[0]
            for i, row in zip(idx, probs):
                out[i] = row
        return np.stack(out).astype(np.float32)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if not label_task(self.task_).has_classes:
            raise ModelError(expected("a classification model", "a regression model", "Use predict() for values."))
        return self.decision_scores(texts)

    def scores_to_labels(self, scores: np.ndarray) -> list[Any]:
        """The shared decoding of the task (the same as `TextClassifier.scores_to_labels`)."""
        return label_task(self.task_).decode(scores, self.classes_, self.threshold)

    def predict(self, texts: Sequence[str]) -> list[Any]:
        return self.scores_to_labels(self.decision_scores(texts))


def onnx_folder_for(model_dir: str | Path) -> Path:
    """Where `headstart serve --onnx` looks: the folder itself if it is an export, else MODEL/onnx."""
    model_dir = Path(model_dir)
    return model_dir if (model_dir / ONNX_METADATA).exists() else model_dir / "onnx"


__all__ = ["ExportReport", "OnnxClassifier", "export_onnx", "onnx_folder_for", "parity_texts"]
