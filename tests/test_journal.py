"""`arborlab.journal`: pieces survive a restart, a line cut short by a kill is dropped, settings guard the pieces."""

import json

import pytest

from arborlab.errors import ArborError
from arborlab.journal import Journal, journal_beside


def test_pieces_are_read_back_by_a_new_journal_and_not_made_again(tmp_path, capsys):
    made = []
    first = Journal(tmp_path / "j", {"n": 3})
    assert first.piece("a", lambda: made.append("a") or (1, [2, 3])) == [1, [2, 3]]  # as JSON reads it back
    again = Journal(tmp_path / "j", {"n": 3})
    assert "resuming the interrupted run journalled in" in " ".join(capsys.readouterr().err.split())
    assert again.piece("a", lambda: made.append("a again") or None) == [1, [2, 3]]
    assert again.piece("b", lambda: made.append("b") or {"x": 1.5}) == {"x": 1.5}
    assert made == ["a", "b"]
    assert Journal(tmp_path / "j", {"n": 3}).done == {"a": [1, [2, 3]], "b": {"x": 1.5}}


def test_a_line_cut_short_by_a_kill_is_dropped_and_the_next_piece_starts_a_new_line(tmp_path):
    journal = Journal(tmp_path / "j", {})
    journal.piece("a", lambda: 1)
    with open(tmp_path / "j" / "pieces.jsonl", "a") as stream:
        stream.write('{"key": "b", "val')  # the process died here
    resumed = Journal(tmp_path / "j", {})
    assert resumed.done == {"a": 1}
    resumed.piece("b", lambda: 2)
    assert Journal(tmp_path / "j", {}).done == {"a": 1, "b": 2}
    lines = (tmp_path / "j" / "pieces.jsonl").read_text().splitlines()
    assert lines[1] == '{"key": "b", "val' and json.loads(lines[2]) == {"key": "b", "value": 2}


def test_other_settings_are_refused_or_discarded_at_the_first_record(tmp_path):
    Journal(tmp_path / "j", {"budgets": [1, 2]}).piece("a", lambda: 1)
    with pytest.raises(ArborError, match=r"holds an interrupted run with other settings \(budgets\); rerun"):
        Journal(tmp_path / "j", {"budgets": [1, 4]})
    fresh = Journal(tmp_path / "j", {"budgets": (1, 4)}, discard=True)
    assert fresh.done == {} and (tmp_path / "j" / "pieces.jsonl").is_file()  # nothing removed before a record
    fresh.piece("b", lambda: 2)
    assert Journal(tmp_path / "j", {"budgets": [1, 4]}).done == {"b": 2}


def test_a_journal_that_records_nothing_leaves_nothing(tmp_path):
    Journal(tmp_path / "j", {"n": 1})
    assert not (tmp_path / "j").exists()
    Journal(tmp_path / "j", {"n": 1}).finish()
    assert journal_beside(tmp_path / "out") == tmp_path.resolve() / "out.partial"
