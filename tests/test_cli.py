"""The `arbor` command as a user meets it: outputs, exit codes, and one-sentence errors."""

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from arborlab.score import tally_wrong


def arbor(*args, stdin=None):
    """Run `arbor ARGS…` in a subprocess; returns (exit code, stdout, stderr)."""
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    done = subprocess.run(
        [sys.executable, "-m", "arborlab", *args], capture_output=True, text=True, input=stdin, env=env, timeout=300
    )
    return done.returncode, done.stdout, done.stderr


def assert_one_sentence_error(code, out, err, *fragments):
    assert code != 0
    assert "Traceback" not in out + err
    message = err.strip()
    assert message.startswith("error:") and message.count("\n") == 0, message
    for fragment in fragments:
        assert fragment in message, message


def test_tasks_list_shows_every_task_and_knob():
    code, out, _ = arbor("tasks", "list")
    assert code == 0
    for name in ("countdown", "arithmetic", "compare", "graph-path", "sudoku", "rg:NAME", "n_numbers", "dfs, bfs, best-first"):
        assert name in out


def test_sample_json_traces_verify():
    from arborlab.tasks import get_task

    code, out, _ = arbor("tasks", "sample", "countdown", "--style", "search", "--order", "bfs", "--n", "4", "--seed", "3",
                         "-d", "n_numbers=3", "--json")
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    task = get_task("countdown")
    assert len(rows) == 4 and all(len(r["problem"]["numbers"]) == 3 for r in rows)
    assert all(task.verify(r["problem"], r["completion"]).correct for r in rows)


def test_sample_pretty_print_marks_steps():
    code, out, _ = arbor("tasks", "sample", "countdown", "--style", "search", "--n", "1", "--seed", "1")
    assert code == 0 and "prompt" in out and "✓ correct" in out and "dead ends" in out


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("tasks", "sample", "countdwn"), ("unknown task 'countdwn'", "known tasks: ", "countdown")),
        (("tasks", "sample", "countdown", "-d", "n_numbers=99"), ("'n_numbers' must be an integer from 2 to 6",)),
        (("tasks", "sample", "countdown", "-d", "min_target=90", "-d", "max_target=10"), ("must not exceed",)),
        (("tasks", "sample", "countdown", "-d", "colour=red"), ("no difficulty knob 'colour'",)),
        (("tasks", "sample", "countdown", "-d", "n_numbers"), ("KEY=VALUE",)),
        (("tasks", "sample", "countdown", "--style", "verbose"), ("trace style must be one of",)),
        (("tasks", "score", "countdown", "/nonexistent/answers.jsonl"), ("is not a file",)),
    ],
)
def test_bad_input_is_one_sentence_without_traceback(args, fragments):
    assert_one_sentence_error(*arbor(*args), *fragments)


def test_make_dataset_refuses_existing_folder_and_unwritable_path(tmp_path):
    out = tmp_path / "data"
    code, stdout, _ = arbor("tasks", "make-dataset", "countdown", "--n", "40", "--style", "cot", "--out", str(out))
    assert code == 0 and "train" in stdout
    assert sum(pq.read_metadata(out / f"{s}.parquet").num_rows for s in ("train", "val", "test")) == 40
    assert_one_sentence_error(
        *arbor("tasks", "make-dataset", "countdown", "--n", "40", "--style", "cot", "--out", str(out)), "--overwrite"
    )
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert_one_sentence_error(
        *arbor("tasks", "make-dataset", "countdown", "--n", "5", "--style", "cot", "--out", str(blocker / "sub")),
        "is a file, not a folder",
    )


def test_score_grades_each_line_and_survives_malformed_ones(tmp_path):
    lines = [
        json.dumps({"problem": {"numbers": [3, 5, 7, 8], "target": 23}, "answer": "3+5+7+8"}),
        json.dumps({"problem": {"numbers": [3, 5, 7, 8], "target": 23}, "answer": "<answer>3*5+8</answer>"}),
        "{not json",
        json.dumps({"problem": {"numbers": "3 5", "target": 8}, "answer": "3+5"}),
        json.dumps({"answer": "3+5"}),
        json.dumps({"problem": {"numbers": [3, 5], "target": 8}, "answer": 8}),
        "",
        json.dumps({"problem": {"numbers": [4, 6], "target": 24}, "answer": "4*6"}),
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = arbor("tasks", "score", "countdown", str(path))
    assert code == 0
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [v["correct"] for v in verdicts] == [True, False, False, False, False, False, True]
    assert [v["line"] for v in verdicts] == [1, 2, 3, 4, 5, 6, 8]
    assert "does not use 7" in verdicts[1]["reason"]
    assert "not valid JSON" in verdicts[2]["reason"]
    assert "'numbers'" in verdicts[3]["reason"]
    assert "'problem' and 'answer'" in verdicts[4]["reason"]
    assert "2 of 7 correct" in err
    code, _, _ = arbor("tasks", "score", "countdown", str(path), "--out", str(tmp_path / "verdicts.jsonl"))
    assert code == 0 and (tmp_path / "verdicts.jsonl").read_text() == out
    code, piped, _ = arbor("tasks", "score", "countdown", "-", stdin=path.read_text())
    assert piped == out


def test_score_points_at_the_first_invalid_step_of_a_trace(tmp_path):
    problem = {"numbers": [25, 75, 16], "target": 84}
    steps = ["25+75=100, left 16 100, target 84", "16+100=116, left 116, target 84", "back to 16 100, target 84",
             "100-16=84, left 84, target 84"]
    good = "<think>\n" + "\n".join(steps) + "\n</think><answer>(25+75)-16</answer>"
    slip = good.replace("16+100=116, left 116", "16+100=117, left 117")
    lines = [json.dumps({"problem": problem, "answer": good}),
             json.dumps({"problem": problem, "answer": "(25+75)-16", "completion": slip}),
             json.dumps({"problem": problem, "answer": "(25+75)-16"})]
    path = tmp_path / "answers.jsonl"
    path.write_text("\n".join(lines) + "\n")
    code, out, err = arbor("tasks", "score", "countdown", str(path))
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [v["correct"] for v in verdicts] == [True, True, True]
    assert verdicts[0]["first_invalid_step"] is None
    assert verdicts[1]["first_invalid_step"]["index"] == 1 and verdicts[1]["first_invalid_step"]["step"] == steps[1].replace("116", "117")
    assert "first_invalid_step" not in verdicts[2]  # no trace to check


def test_score_summary_tallies_wrong_answers_by_reason_and_first_invalid_step(tmp_path):
    problem = {"numbers": [25, 75, 16], "target": 84}
    def trace(steps, answer):
        return "<think>\n" + "\n".join(steps) + f"\n</think><answer>{answer}</answer>"
    lines = [
        trace(["25+75=100, left 16 100, target 84", "100-16=84, left 84, target 84"], "(25+75)-16"),  # right
        trace(["25+75=101, left 16 101, target 84"], "(25+75)-17"),  # a sum slip; answer uses 17
        trace(["25+75=100, left 16 100, target 84", "100-16=85, left 85, target 84"], "25+75+16"),  # difference
        trace(["25*75=1876, left 16 1876, target 84"], "25*75-16"),  # a big product
        trace(["25*75=1875, left 16 1875, target 84"], "25*75+16"),  # every step valid, wrong answer
        "(25+75)-16",  # no trace, right
        "25+75",  # no trace, wrong
    ]
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"problem": problem, "answer": answer}) + "\n" for answer in lines))
    code, out, err = arbor("tasks", "score", "countdown", str(path), "--summary")
    assert code == 0 and "2 of 7 correct" in err
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [v.get("first_invalid_step", {}) and v["first_invalid_step"]["kind"] for v in verdicts[:5]] == [
        None, "sum", "difference", "product >= 1000", None]
    tally = tally_wrong(verdicts)
    assert tally["total"] == 7 and tally["wrong"] == 5
    assert tally["first_invalid"] == {"sum": 1, "difference": 1, "product >= 1000": 1, "all steps valid": 1, "no trace": 1}
    assert sum(tally["reasons"].values()) == 5 and tally["reasons"]["the answer evaluates to N, not N"] == 3
    assert "5 wrong answers" in err and "product >= 1000" in err


def test_train_sft_rejects_unknown_number_and_optimizer_settings_before_any_work(tmp_path):
    for option, value, fragment in (("--numbers", "roman", "numbers must be one of whole, digits"),
                                    ("--number-init", "abacus", "number_init must be one of random, digits, fourier"),
                                    ("--optimizer", "sgd", "optimizer must be one of adamw, muon"),
                                    ("--ema-decay", "1.5", "ema_decay must be in [0, 1)")):
        out = tmp_path / value
        assert_one_sentence_error(*arbor("train", "sft", "--out", str(out), option, value), fragment)
        assert not (out / "data").exists()  # no dataset was made
