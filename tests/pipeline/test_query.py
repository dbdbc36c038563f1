"""``python -m pipeline query`` and ``connect``: views over an output, old outputs included."""

from __future__ import annotations

import os
import shutil

from pipeline import query
from transforms import sinks


def test_a_table_missing_from_an_older_output_is_an_empty_view(tmp_path):
    sinks.ensure_tables(str(tmp_path))
    shutil.rmtree(tmp_path / "dates")  # written before the dates table existed
    con = query.connect(str(tmp_path))
    assert con.execute("SELECT count(*) FROM dates").fetchone()[0] == 0
    columns = [r[0] for r in con.execute("DESCRIBE dates").fetchall()]
    assert columns[:2] == ["article_id", "start_char"]
    assert os.path.isdir(tmp_path / "articles")


def test_query_command_runs_sql(tmp_path, capsys):
    sinks.ensure_tables(str(tmp_path))
    assert query.main(["--output", str(tmp_path), "SELECT count(*) AS n FROM articles"]) == 0
    assert "n" in capsys.readouterr().out
    assert query.main(["--output", str(tmp_path / "nowhere")]) == 2
