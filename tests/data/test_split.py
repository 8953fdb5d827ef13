from collections import Counter

from headstart.data import Examples, sample_per_class, stratified_split


def test_stratified_split_keeps_proportions_and_is_seeded():
    ex = Examples(texts=[str(i) for i in range(100)], labels=["a"] * 80 + ["b"] * 20)
    train, held = stratified_split(ex, 0.25, seed=1)
    assert Counter(held.labels) == {"a": 20, "b": 5} and len(train) == 75
    assert stratified_split(ex, 0.25, seed=1)[1].texts == held.texts
    assert stratified_split(ex, 0.25, seed=2)[1].texts != held.texts


def test_singleton_class_stays_in_training():
    ex = Examples(texts=["1", "2", "3"], labels=["a", "a", "b"])
    train, held = stratified_split(ex, 0.5, seed=0)
    assert "b" in train.labels


def test_sample_per_class():
    ex = Examples(texts=[str(i) for i in range(30)], labels=["a"] * 20 + ["b"] * 10)
    s = sample_per_class(ex, 4, seed=0)
    assert Counter(s.labels) == {"a": 4, "b": 4}
