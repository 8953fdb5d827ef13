"""Mean-pooled embeddings and their on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from headstart import resolve_backbone
from headstart.embeddings import embed


def test_cache_reuses_vectors_and_keeps_order(tiny_backbone, monkeypatch):
    ref = resolve_backbone(tiny_backbone)
    texts = ["a good film", "a bad film", "a good film", "something else entirely"]
    first = embed(ref, texts, progress=False)
    assert first.shape == (4, 32)
    np.testing.assert_allclose(first[0], first[2])
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)

    import headstart.embeddings as emb

    def fail(*args, **kwargs):
        raise AssertionError("the model was called although every text is cached")

    monkeypatch.setattr(emb, "get_encoder", fail)
    again = embed(ref, list(reversed(texts)), progress=False)
    np.testing.assert_allclose(again, first[::-1])


def test_padding_does_not_change_embeddings(tiny_backbone):
    ref = resolve_backbone(tiny_backbone)
    alone = embed(ref, ["short one"], cache=False, progress=False)
    batched = embed(ref, ["short one", "a much longer sentence that forces padding of the short one"],
                    cache=False, progress=False)
    np.testing.assert_allclose(alone[0], batched[0], atol=1e-5)


@pytest.mark.real_model
def test_onnx_backbone_embeds_sensibly():
    ref = resolve_backbone("paraphrase-MiniLM-L3-v2")
    e = embed(ref, ["a good movie", "a great film", "tax forms are due in april"], cache=False, progress=False)
    assert e[0] @ e[1] > e[0] @ e[2] + 0.3
