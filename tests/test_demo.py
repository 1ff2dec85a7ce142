"""`arbor demo --quick`: the main job end to end, its summary re-scored independently."""

import json

from transformers import AutoModelForCausalLM, AutoTokenizer

from arborlab.demo import run_demo
from arborlab.score import score_lines
from arborlab.tasks import get_task


def test_quick_demo_summary_rescores_to_the_same_accuracy(tmp_path):
    summary = run_demo("countdown", tmp_path / "demo", quick=True)
    assert json.loads((tmp_path / "demo" / "summary.json").read_text()) == summary
    for field in ("task", "difficulty", "heldout_accuracy", "n_heldout", "total_seconds", "model_dir", "predictions"):
        assert field in summary
    assert summary["difficulty"]["n_numbers"] == 3 and summary["n_heldout"] == 30
    with open(summary["predictions"]) as stream:
        verdicts = list(score_lines(get_task("countdown"), stream))
    assert len(verdicts) == 30
    assert summary["heldout_accuracy"] == sum(v["correct"] for v in verdicts) / 30
    wrong = [v for v in verdicts if not v["correct"]]
    assert sum(summary["wrong_answers"].values()) == len(wrong)
    for verdict in wrong:
        if "first_invalid_step" not in verdict:  # the tiny model wrote no <think> block
            assert summary["wrong_answers"]["no trace"] >= 1
        elif verdict["first_invalid_step"] is not None:
            assert summary["wrong_answers"][verdict["first_invalid_step"]["kind"]] >= 1
    tokenizer = AutoTokenizer.from_pretrained(summary["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(summary["model_dir"])
    assert model.config.vocab_size == len(tokenizer)
    assert (tmp_path / "demo" / "report.html").is_file()
