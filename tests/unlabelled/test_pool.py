import pytest

from headstart.errors import DataError
from headstart.unlabelled.pool import read_pool


def write(tmp_path, text, name="pool.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_labelled_and_empty_rows_are_set_apart_and_counted(tmp_path):
    pool = read_pool(write(tmp_path, "text,label\na,\nb,pos\n,\nc,\n"))
    assert pool.texts == ["a", "c"] and pool.rows == [0, 3]
    assert pool.labelled_texts == ["b"] and pool.labelled_labels == ["pos"]
    assert any("empty text" in n for n in pool.notes) and any("already carry a label" in n for n in pool.notes)


def test_a_pool_without_a_label_column_is_all_unlabelled(tmp_path):
    assert read_pool(write(tmp_path, "text\nx\ny\n")).texts == ["x", "y"]


def test_a_fully_labelled_pool_is_refused(tmp_path):
    with pytest.raises(DataError, match="unlabelled rows"):
        read_pool(write(tmp_path, "text,label\na,pos\nb,neg\n"))


def test_another_column_layout_names_the_columns_found(tmp_path):
    with pytest.raises(DataError, match="sentence"):
        read_pool(write(tmp_path, "sentence\nx\n"))
