"""`arbor study tts`: the findings' verdicts follow their rules, their numbers equal a recomputation from
scaling.json, a rerun reuses every stage, and bad input is one sentence that writes nothing."""

import json
import re

import pytest
from typer.testing import CliRunner

import arborlab.studies.common
import arborlab.studies.tts_scaling as tts
from arborlab.cli import app
from arborlab.errors import ArborError
from arborlab.studies.tts_scaling import TTSStudy, findings, run_tts_study
from tests.search.toy import DIFFICULTY, TASK, toy_model_dir
from tests.test_cli import arbor, assert_one_sentence_error

TINY_MODEL = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2}


# ---- the findings' rules, on hand-made scaling reports --------------------------------------------


def hand_made(accuracy: dict, budgets=(1, 2, 4), n=(6, 4)) -> dict:
    """A scaling report with these test accuracies: {(strategy, budget, bin): accuracy}; bins "1" and "2"
    hold n[0] and n[1] problems, FLOPs grow with the budget (beam costs more)."""
    sizes = {"1": n[0], "2": n[1], "all": sum(n)}
    test = [{"strategy": s, "budget": b, "bin": g, "accuracy": a, "n": sizes[g], "flops": b * (2.0 if s == "beam" else 1.0),
             "tokens": 10.0 * b, "seconds": 0.1} for (s, b, g), a in accuracy.items()]
    return {"budgets": list(budgets), "bins": 2, "strategies": ["greedy", "vote", "best-of-n", "beam"], "test": test,
            "compute_optimal_picks": {}}


def grid(all_bins: dict, hardest: dict) -> dict:
    """{(strategy, budget): accuracy} on all problems and in bin 2 → the accuracy dict of `hand_made`."""
    return {**{(s, b, "all"): a for (s, b), a in all_bins.items()}, **{(s, b, "2"): a for (s, b), a in hardest.items()}}


AGREEING_ALL = {
    ("greedy", 1): 0.5,
    ("vote", 1): 0.4, ("vote", 2): 0.5, ("vote", 4): 0.7,
    ("best-of-n", 1): 0.4, ("best-of-n", 2): 0.6, ("best-of-n", 4): 0.7,
    ("beam", 1): 0.4, ("beam", 2): 0.5, ("beam", 4): 0.6,
    ("compute-optimal", 1): 0.5, ("compute-optimal", 2): 0.6, ("compute-optimal", 4): 0.8,
}
AGREEING_HARDEST = {("greedy", 1): 0.25, ("beam", 2): 0.5, ("best-of-n", 2): 0.25, ("beam", 4): 0.5, ("best-of-n", 4): 0.5}


def test_each_finding_agrees_when_its_rule_holds_with_the_numbers_behind_it():
    a, b, c = findings(hand_made(grid(AGREEING_ALL, AGREEING_HARDEST)))
    assert [f["verdict"] for f in (a, b, c)] == ["agrees"] * 3
    assert a["numbers"]["budget"] == 4 and a["numbers"]["difference"] == pytest.approx(0.2) and a["numbers"]["n"] == 10
    assert a["numbers"]["vote_by_budget"] == {"1": 0.4, "2": 0.5, "4": 0.7}
    assert (b["numbers"]["low_budget"], b["numbers"]["high_budget"]) == (2, 4)
    assert b["numbers"]["gap_low"] == pytest.approx(0.25) and b["numbers"]["gap_high"] == pytest.approx(0.0)
    # best fixed strategy: best-of-n (mean 17/30) over vote (16/30) and beam (15/30)
    numbers = c["numbers"]
    assert numbers["fixed_strategy"] == "best-of-n"
    assert [row["difference"] for row in numbers["per_budget"]] == pytest.approx([0.1, 0.0, 0.1])
    assert numbers["mean_difference"] == pytest.approx(0.2 / 3)
    assert numbers["budgets_at_least_fixed"] == 3
    # each budget's best single strategy with hindsight (a tie goes to fewer FLOPs, then the later name)
    assert [row["best_at_budget"] for row in numbers["per_budget"]] == ["greedy", "best-of-n", "vote"]
    assert numbers["budgets_at_least_best_at_budget"] == 3


@pytest.mark.parametrize(
    "change, key",
    [
        ({("vote", 4, "all"): 0.5}, "self-consistency"),  # a tie with greedy is not "beats"
        ({("beam", 4, "2"): 1.0}, "beam-vs-best-of-n"),  # the lead grows with the budget
        ({("beam", 2, "2"): 0.25, ("beam", 4, "2"): 0.0}, "beam-vs-best-of-n"),  # no lead at the low budget
        ({("compute-optimal", 4, "all"): 0.5}, "compute-optimal"),  # leads 0.1, 0, -0.2: mean -0.1 / 3
    ],
)
def test_a_finding_disagrees_when_its_rule_fails(change, key):
    accuracy = {**grid(AGREEING_ALL, AGREEING_HARDEST), **change}
    verdicts = {f["key"]: f["verdict"] for f in findings(hand_made(accuracy))}
    assert verdicts == {k: "disagrees" if k == key else "agrees" for k in verdicts}


def test_a_finding_the_grid_cannot_test_is_untestable_not_guessed():
    one_budget_above_1 = {k: v for k, v in grid(AGREEING_ALL, AGREEING_HARDEST).items() if k[1] < 4}
    verdicts = {f["key"]: f["verdict"] for f in findings(hand_made(one_budget_above_1, budgets=(1, 2)))}
    assert verdicts["beam-vs-best-of-n"] == "untestable"
    partial = hand_made(grid(AGREEING_ALL, AGREEING_HARDEST))
    for entry in partial["test"]:
        if entry["strategy"] == "compute-optimal" and entry["budget"] == 2:
            entry["n"] = 6  # the compute-optimal line covered one bin only
    (c,) = [f for f in findings(partial) if f["key"] == "compute-optimal"]
    assert c["verdict"] == "untestable" and c["numbers"]["budgets_without_full_compute_optimal"] == [2]


# ---- the study end to end ---------------------------------------------------------------------------


def recomputed(scaling: dict) -> dict:
    """The findings' numbers and verdicts, computed again from scaling.json's test entries."""
    acc = {(e["strategy"], e["budget"], e["bin"]): e["accuracy"] for e in scaling["test"]}
    flops = {(e["strategy"], e["budget"]): e["flops"] for e in scaling["test"] if e["bin"] == "all"}
    budgets, hardest = sorted(scaling["budgets"]), str(scaling["bins"])
    top, low = budgets[-1], [b for b in budgets if b > 1][0]
    a = acc[("vote", top, "all")] - acc[("greedy", 1, "all")]
    gap_low = acc[("beam", low, hardest)] - acc[("best-of-n", low, hardest)]
    gap_high = acc[("beam", top, hardest)] - acc[("best-of-n", top, hardest)]
    means = {s: (sum(acc[(s, b, "all")] for b in budgets) / len(budgets), -sum(flops[(s, b)] for b in budgets) / len(budgets), s)
             for s in ("vote", "best-of-n", "beam")}
    fixed = max(means, key=means.get)
    differences = [acc[("compute-optimal", b, "all")] - acc[(fixed, b, "all")] for b in budgets]
    return {
        "a": a, "a_verdict": "agrees" if a > 0 else "disagrees",
        "b": [gap_low, gap_high],
        "b_verdict": "untestable" if low == top else "agrees" if gap_low > 0 and gap_high < gap_low else "disagrees",
        "c_fixed": fixed, "c": differences + [sum(differences) / len(differences)],
        "c_counts": sum(d >= 0 for d in differences), "c_verdict": "agrees" if sum(differences) > 0 else "disagrees",
    }


def test_the_cli_study_writes_findings_equal_to_a_recomputation_from_scaling_json(tmp_path):
    out = tmp_path / "study"
    command = ["study", "tts", "--model", str(toy_model_dir()), "--out", str(out), "--task", TASK,
               *[arg for k, v in DIFFICULTY.items() for arg in ("-d", f"{k}={v}")], "--budgets", "1,2,4", "--problems", "8",
               "--bins", "2", "--difficulty-samples", "4", "--prm-problems", "12", "--prm-steps", "6", "--max-new-tokens", "60"]
    shown = CliRunner().invoke(app, command, catch_exceptions=False, terminal_width=200)
    assert shown.exit_code == 0 and "self-consistency beats greedy" in shown.stdout and "report.html" in shown.stdout
    result = json.loads((out / "findings.json").read_text())
    scaling = json.loads((out / "scaling" / "scaling.json").read_text())
    assert scaling["strategies"] == ["greedy", "vote", "best-of-n", "beam"] and scaling["verifier"] == f"prm:{out / 'prm'}"
    assert result["policy"] == {"folder": str(toy_model_dir()), "trained_here": False}
    a, b, c = result["findings"]
    expected = recomputed(scaling)
    assert a["numbers"]["difference"] == pytest.approx(expected["a"]) and a["verdict"] == expected["a_verdict"]
    assert [b["numbers"]["gap_low"], b["numbers"]["gap_high"]] == pytest.approx(expected["b"])
    assert b["verdict"] == expected["b_verdict"]
    if c["verdict"] == "untestable":  # bins are cut over both splits; a bin may hold no validation problem
        everyone = next(e["n"] for e in scaling["test"] if (e["strategy"], e["bin"]) == ("greedy", "all"))
        assert any(e["n"] < everyone for e in scaling["test"] if e["strategy"] == "compute-optimal" and e["bin"] == "all")
    else:
        numbers = c["numbers"]
        assert numbers["fixed_strategy"] == expected["c_fixed"] and c["verdict"] == expected["c_verdict"]
        assert [r["difference"] for r in numbers["per_budget"]] + [numbers["mean_difference"]] == pytest.approx(expected["c"])
        assert numbers["budgets_at_least_fixed"] == expected["c_counts"]
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64") == 2 and (out / "findings.png").is_file()


def test_a_rerun_reuses_every_stage_and_refuses_other_settings(tmp_path, monkeypatch):
    study = TTSStudy(train_steps=12, sft=dict(n_problems=300, model=TINY_MODEL, warmup_steps=2, eval_every=10**9,
                                              final_eval_problems=4, checkpoint_every=10**9, max_new_tokens=48, max_length=400),
                     prm_problems=6, prm_eval_problems=4, prm_samples=1, prm_steps=3, prm_batch_size=8,
                     budgets=(1, 2), n_problems=4, bins=2, difficulty_samples=2, beam_width=2, max_new_tokens=48)
    first = run_tts_study(study, tmp_path, show_progress=False)
    assert first["policy"]["trained_here"] and (tmp_path / "policy" / "final" / "config.json").is_file()
    assert first["policy"]["train_steps"] == 12 and first["policy"]["greedy_test_n"] == 4
    assert json.loads((tmp_path / "findings.json").read_text()) == first
    assert json.loads((tmp_path / "study.json").read_text())["difficulty"]["n_numbers"] == 3  # the demo's task

    def never(*args, **kwargs):
        raise AssertionError("a finished stage ran again")

    monkeypatch.setattr(arborlab.studies.common, "train_or_resume", never)
    monkeypatch.setattr(tts, "train_prm", never)
    monkeypatch.setattr(tts, "run_scaling", never)
    assert run_tts_study(study, tmp_path, show_progress=False) == first
    study.budgets = (1, 2, 4)
    with pytest.raises(ArborError, match=re.escape("was run with other settings (budgets)")):
        run_tts_study(study, tmp_path, show_progress=False)


@pytest.mark.parametrize(
    "settings, fragment",
    [
        (dict(budgets=(1,)), "at least one above 1"),
        (dict(budgets=(0, 2)), "--budgets takes positive integers"),
        (dict(n_problems=3), "--problems (3) must be at least --bins (4)"),
        (dict(task="chess"), "unknown task 'chess'"),
        (dict(difficulty={"n_numbers": 9}), "difficulty knob 'n_numbers' must be an integer from 2 to 6"),
        (dict(beam_width=0), "--beam-width must be at least 1"),
        (dict(prm_steps=0), "--prm-steps must be at least 1"),
        # no room after the opening line: refused before the policy's minutes of training, not after
        (dict(max_new_tokens=2), "max_new_tokens must be more than the 2 tokens of the opening '<think>' line"),
    ],
)
def test_bad_settings_are_one_sentence_and_write_nothing(tmp_path, settings, fragment):
    with pytest.raises(ArborError, match=re.escape(fragment)):
        run_tts_study(TTSStudy(**settings), tmp_path / "study", show_progress=False)
    assert not (tmp_path / "study").exists()


def test_a_model_folder_that_is_not_a_model_is_one_sentence_and_writes_nothing(tmp_path):
    (tmp_path / "notes").mkdir()
    code, out, err = arbor("study", "tts", "--model", str(tmp_path / "notes"), "--out", str(tmp_path / "study"))
    assert_one_sentence_error(code, out, err, "is not a Hugging Face model folder")
    assert not (tmp_path / "study").exists()
