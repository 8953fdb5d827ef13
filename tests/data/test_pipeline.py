from headstart.data import Examples, Pipeline, fold, summarize
from headstart.data.pipeline import Row, lowercase, min_chars, non_empty, normalize_text, on_text, unique_text


def test_map_filter_and_dropped_counts():
    ex = Examples(texts=["  Hello   World ", "", "hello world", "x"], labels=["a", "b", "a", "b"])
    out, dropped = (Pipeline().map(normalize_text).map(lowercase).filter(non_empty).filter(min_chars(2))
                    .filter(unique_text()))(ex)
    assert out.texts == ["hello world"] and out.labels == ["a"]
    assert dropped == {"non_empty": 1, "min_chars": 1, "unique_text": 1}
    assert ex.texts[0] == "  Hello   World "  # the input is never changed


def test_on_text_and_fold():
    p = Pipeline().map(on_text(str.upper))
    out, _ = p(Examples(texts=["ab"], labels=["x"]))
    assert out.texts == ["AB"]
    assert fold(lambda n, r: n + len(r.text), 0, [Row("ab"), Row("cde")]) == 5


def test_summarize():
    s = summarize(Examples(texts=["ab", "abcd"], labels=["x", "y"]))
    assert s == {"rows": 2, "mean_chars": 3.0, "max_chars": 4, "min_chars": 2, "labels": {"x": 1, "y": 1}}
