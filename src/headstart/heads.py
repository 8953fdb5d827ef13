"""Small prediction heads over fixed features, fitted with scikit-learn and stored as plain arrays.

Storing weights (safetensors) rather than pickled estimators keeps saved models safe to load and
lets the same numbers run in numpy, PyTorch or ONNX.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .embeddings import pooled
from .tasks import label_task

Output = Literal["softmax", "sigmoid", "identity"]


@dataclass
class DenseHead:
    """Layers (W, b) with ReLU between them and `output` at the end: `x @ W.T + b`."""

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    output: Output

    def __post_init__(self) -> None:
        # stored as float32 on disk; keeping the same precision in memory makes a reload bit-identical
        self.weights = [np.asarray(w, dtype=np.float32) for w in self.weights]
        self.biases = [np.atleast_1d(np.asarray(b, dtype=np.float32)) for b in self.biases]

    def scores(self, x: np.ndarray) -> np.ndarray:
        h = np.asarray(x, dtype=np.float64)
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = h @ w.T + b
            if i < len(self.weights) - 1:
                h = np.maximum(h, 0.0)
        if self.output == "softmax":
            h = h - h.max(axis=1, keepdims=True)
            e = np.exp(h)
            return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        if self.output == "sigmoid":
            return (1.0 / (1.0 + np.exp(-h))).astype(np.float32)
        return h[:, 0].astype(np.float32)

    def n_parameters(self) -> int:
        return int(sum(w.size + b.size for w, b in zip(self.weights, self.biases)))

    def save(self, path: Path) -> None:
        from safetensors.numpy import save_file

        tensors = {}
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            tensors[f"layer{i}.weight"] = np.ascontiguousarray(w, dtype=np.float32)
            tensors[f"layer{i}.bias"] = np.ascontiguousarray(b, dtype=np.float32)
        save_file(tensors, str(path), metadata={"output": self.output, "layers": str(len(self.weights))})

    def on_encoder(self, encoder) -> Any:
        """A torch module of (input_ids, attention_mask): `encoder`, masked mean pooling, L2 normalisation and
        this head, the same maths as `scores` on the normalised embeddings (what `export --onnx` traces)."""
        import torch

        head = self

        class PooledHead(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder
                for i, (w, b) in enumerate(zip(head.weights, head.biases)):
                    self.register_buffer(f"w{i}", torch.as_tensor(w))
                    self.register_buffer(f"b{i}", torch.as_tensor(b))

            def forward(self, input_ids, attention_mask):
                h = pooled(self.encoder, {"input_ids": input_ids, "attention_mask": attention_mask})
                for i in range(len(head.weights)):
                    h = h @ getattr(self, f"w{i}").T + getattr(self, f"b{i}")
                    if i < len(head.weights) - 1:
                        h = torch.relu(h)
                if head.output == "softmax":
                    return torch.softmax(h, -1)
                return torch.sigmoid(h) if head.output == "sigmoid" else h[:, 0]

        return PooledHead().eval()

    @classmethod
    def load(cls, path: Path) -> "DenseHead":
        from safetensors import safe_open

        with safe_open(str(path), "np") as fh:
            meta = fh.metadata()
            n = int(meta["layers"])
            weights = [fh.get_tensor(f"layer{i}.weight") for i in range(n)]
            biases = [fh.get_tensor(f"layer{i}.bias") for i in range(n)]
        return cls(weights, biases, meta["output"])  # type: ignore[arg-type]


def fit_head(x: np.ndarray, y: np.ndarray, task: str, kind: str = "logistic", c: float = 10.0,
             hidden: int = 256, class_weight: str | None = None, seed: int = 0, max_iter: int = 2000,
             sample_weight: np.ndarray | None = None) -> DenseHead:
    """Fit a logistic/ridge (kind='logistic') or one-hidden-layer MLP head and export its weights; the task's
    output activation says which: a regressor (identity), one classifier per class (sigmoid) or one over all.
    `sample_weight` (n,) weighs each row's loss (None: all 1); every sklearn model used here honours it."""
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    cw = "balanced" if class_weight == "balanced" else None
    output = label_task(task).output
    if output == "identity":
        if kind == "mlp":
            model = MLPRegressor((hidden,), alpha=1.0 / c, max_iter=max_iter, random_state=seed, early_stopping=True)
            model.fit(x, y, sample_weight=sw)
            return DenseHead([w.T for w in model.coefs_], list(model.intercepts_), "identity")
        ridge = Ridge(alpha=1.0 / c).fit(x, y, sample_weight=sw)
        return DenseHead([ridge.coef_.reshape(1, -1)], [np.atleast_1d(ridge.intercept_)], "identity")
    if output == "sigmoid":
        if kind == "mlp":
            model = MLPClassifier((hidden,), alpha=1.0 / c, max_iter=max_iter, random_state=seed).fit(
                x, y, sample_weight=sw)
            return DenseHead([w.T for w in model.coefs_], list(model.intercepts_), "sigmoid")
        weights, biases = [], []
        for j in range(y.shape[1]):
            column = y[:, j].astype(int)
            if column.min() == column.max():  # a label that is always (or never) on: constant score
                weights.append(np.zeros(x.shape[1]))
                biases.append(8.0 if column[0] else -8.0)
                continue
            lr = LogisticRegression(C=c, max_iter=max_iter, class_weight=cw).fit(x, column, sample_weight=sw)
            weights.append(lr.coef_[0])
            biases.append(lr.intercept_[0])
        return DenseHead([np.stack(weights)], [np.asarray(biases)], "sigmoid")
    n_classes = int(y.max()) + 1
    if kind == "mlp":
        model = MLPClassifier((hidden,), alpha=1.0 / c, max_iter=max_iter, random_state=seed).fit(
            x, y, sample_weight=sw)
        weights = [w.T for w in model.coefs_]
        biases = list(model.intercepts_)
    else:
        model = LogisticRegression(C=c, max_iter=max_iter, class_weight=cw).fit(x, y, sample_weight=sw)
        weights, biases = [model.coef_], [model.intercept_]
    if weights[-1].shape[0] == 1:  # binary: sklearn keeps one logit; softmax over [0, z] is sigmoid(z)
        weights[-1] = np.vstack([np.zeros_like(weights[-1]), weights[-1]])
        biases[-1] = np.concatenate([[0.0], biases[-1]])
    return _expand_classes(DenseHead(weights, biases, "softmax"), model.classes_, n_classes)


def _expand_classes(head: DenseHead, present: np.ndarray, n_classes: int) -> DenseHead:
    """Rows for classes absent from the training sample get a very low logit, not an index shift."""
    if len(present) == n_classes:
        return head
    w = np.zeros((n_classes, head.weights[-1].shape[1]))
    b = np.full(n_classes, -1e4)
    w[present] = head.weights[-1]
    b[present] = head.biases[-1]
    head.weights[-1], head.biases[-1] = w, b
    return head
