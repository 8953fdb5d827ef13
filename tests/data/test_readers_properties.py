"""Property tests of the readers: whatever the bytes, a file gives `Examples` or a `DataError`, never another
exception (random bytes, random CSV/TSV/JSONL shapes, random encodings)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headstart.data.examples import Examples
from headstart.data.readers import first_non_utf8, read_examples
from headstart.errors import DataError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TASKS = st.sampled_from(["auto", "classification", "multilabel", "regression"])
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32", "latin-1", "cp1252", "koi8-r", "shift_jis",
             "gb18030"]


def read_or_data_error(data: bytes, suffix: str, task: str = "auto", label_col: str | None = "label"):
    """Write `data` to a fresh file and read it; anything but Examples or DataError fails the test."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        try:
            result = read_examples(path, "text", label_col, task)
        except DataError as exc:
            assert str(exc)  # a message, not an empty error
            return exc
        assert isinstance(result, Examples) and all(isinstance(t, str) for t in result.texts)
        return result


cells = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".tsv", ".jsonl", ".json", ".txt"]), task=TASKS)
def test_random_bytes(data, suffix, task):
    read_or_data_error(data, suffix, task)


@SETTINGS
@given(data=st.binary(min_size=1, max_size=300))
def test_random_bytes_as_parquet(data):
    read_or_data_error(data, ".parquet")


@SETTINGS
@given(header=st.lists(st.sampled_from(["text", "label", "x", "", "text"]), min_size=1, max_size=4),
       rows=st.lists(st.lists(cells, max_size=5), max_size=6), sep=st.sampled_from([",", "\t"]), task=TASKS,
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
def test_random_csv_shapes(header, rows, sep, task, quoting):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=sep, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)  # ragged rows too: more or fewer cells than the header
    read_or_data_error(buffer.getvalue().encode("utf-8"), ".csv" if sep == "," else ".tsv", task)


@SETTINGS
@given(lines=st.lists(st.text(alphabet=st.sampled_from('text,label"\n\r\t ab|1.5'), max_size=30), max_size=6),
       task=TASKS)
def test_csv_like_text(lines, task):
    read_or_data_error("\n".join(lines).encode("utf-8"), ".csv", task)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | cells,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(cells, inner, max_size=3), max_leaves=8)
json_rows = st.one_of(
    st.fixed_dictionaries({"text": json_values}, optional={"label": json_values, "other": json_values}),
    json_values)


@SETTINGS
@given(rows=st.lists(json_rows, max_size=6), blank=st.booleans(), task=TASKS)
def test_random_jsonl_shapes(rows, blank, task):
    text = ("\n\n" if blank else "\n").join(json.dumps(r) for r in rows)
    read_or_data_error(text.encode("utf-8"), ".jsonl", task)


@SETTINGS
@given(texts=st.lists(st.text(min_size=1, max_size=10), min_size=1, max_size=5),
       encoding=st.sampled_from(ENCODINGS), suffix=st.sampled_from([".csv", ".jsonl"]))
def test_random_encodings(texts, encoding, suffix):
    if suffix == ".csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([["text", "label"], *[[t, "a" if i % 2 else "b"] for i, t in enumerate(texts)]])
        text = buffer.getvalue()
    else:
        text = "\n".join(json.dumps({"text": t, "label": "a"}, ensure_ascii=False) for t in texts)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        return  # the encoding cannot hold these characters: nothing to write
    result = read_or_data_error(data, suffix)
    if isinstance(result, DataError) and "UTF-8" in str(result):
        assert "byte offset" in str(result)  # the position of the bad byte, in the file


@SETTINGS
@given(good=cells, bad=st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90"]), tail=cells,
       chunk=st.integers(1, 9))
def test_first_non_utf8_finds_the_byte_in_any_chunking(good, bad, tail, chunk):
    data = good.encode("utf-8") + bad + tail.encode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        path.write_bytes(data)
        offset, line, _ = first_non_utf8(path, chunk_size=chunk)  # small chunks split multi-byte characters
    with pytest.raises(UnicodeDecodeError) as info:
        data.decode("utf-8")
    assert offset == info.value.start and line == data[:offset].count(b"\n") + 1


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_non_utf8_message_names_offset_and_line(tmp_path, suffix):
    # the reported case: the parser said "byte 3" for a bad byte at offset 14 of the file
    body = b"text,label\nok,a\n\xe9t\xe9,b\n" if suffix == ".csv" else b'{"text": "ok", "label": "a"}\n{"text": "\xe9"}\n'
    path = tmp_path / f"latin1{suffix}"
    path.write_bytes(body)
    offset = body.index(b"\xe9")
    line = body[:offset].count(b"\n") + 1
    with pytest.raises(DataError, match=f"byte offset {offset}, line {line} of"):
        read_examples(path)


@pytest.mark.parametrize("body,message", [
    (b'{"text": "a", "label": "x"}\n[1, 2]\n', "a JSON array on line 2"),  # found by the properties above
    (b"null\n", "a JSON null on line 1"),
    (b"[" * 100_000 + b"]" * 100_000 + b"\n", "nested too deeply on line 1"),
])
def test_jsonl_lines_that_are_not_objects_are_a_data_error(tmp_path, body, message):
    (tmp_path / "x.jsonl").write_bytes(body)
    with pytest.raises(DataError, match=message):
        read_examples(tmp_path / "x.jsonl")


def test_jsonl_with_a_byte_order_mark_reads_like_csv_does(tmp_path):
    (tmp_path / "x.jsonl").write_bytes(b'\xef\xbb\xbf{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}\n')
    (tmp_path / "x.csv").write_bytes(b"\xef\xbb\xbftext,label\na,x\nb,y\n")
    assert read_examples(tmp_path / "x.jsonl").texts == read_examples(tmp_path / "x.csv").texts == ["a", "b"]
