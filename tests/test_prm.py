"""PRM/ORM: scored positions, Math-Shepherd agreement by hand, and a PRM on exact labels reaching ROC-AUC >= 0.9."""

import json
import re

import pytest
from transformers import AutoModelForTokenClassification

from arborlab.models import load_model
from arborlab.search import STRATEGIES, Policy, SearchConfig, SearchContext
from arborlab.search.verifiers import make_verifier
from arborlab.tasks import get_task
from arborlab.train.prm import PRMConfig, agreement, encode_trace, train_prm
from tests.search.toy import DIFFICULTY, SLIP_DIFFICULTY, SLIP_TASK, TASK, slip_model_dir, toy_model_dir


def test_a_trace_is_scored_at_each_step_end_and_at_the_answer():
    _, tokenizer = load_model(toy_model_dir())
    task = get_task(TASK)
    problem = next(task.problems(1, seed=3, difficulty=DIFFICULTY))
    completion = task.trace(problem, "cot")
    item = encode_trace(tokenizer, task.prompt(problem), completion)
    assert tokenizer.decode(item.ids, skip_special_tokens=True) == task.prompt(problem) + "\n" + completion
    ends = [tokenizer.decode([item.ids[p]]) for p in item.positions]
    assert ends == ["\n"] * (len(ends) - 1) + ["</answer>"] and item.answered
    assert len(ends) == completion.count("\n")  # every step line ends in a newline; then the answer
    # a memo shared between calls (search's) encodes alike, the second time from the memo alone
    pieces = {}
    assert encode_trace(tokenizer, task.prompt(problem), completion, pieces) == item
    assert encode_trace(tokenizer.__class__.__new__(tokenizer.__class__), task.prompt(problem), completion, pieces) == item


def test_math_shepherd_agreement_matches_hand_counts():
    # two traces of two steps; four rollouts after each step; exact labels good/bad
    verdicts = [[[True, False, False, False], [False] * 4], [[False, True, True, True], [True] * 4]]
    exact = [[1.0, 0.0], [0.0, 1.0]]
    rows = {row["rollouts"]: row for row in agreement(verdicts, exact, [1, 2, 4])}
    # n=1: hard = soft = [1, 0, 0, 1], equal to the truth
    assert (rows[1]["precision"], rows[1]["recall"], rows[1]["roc_auc"]) == (1.0, 1.0, 1.0)
    # n=2: soft [.5, 0, .5, 1]; hard [1, 0, 1, 1]; AUC pairs (pos > neg): .5>0, .5=.5 (half), 1>0, 1>.5
    assert rows[2]["precision"] == pytest.approx(2 / 3) and rows[2]["recall"] == 1.0
    assert rows[2]["roc_auc"] == pytest.approx(3.5 / 4)
    # n=4: soft [.25, 0, .75, 1]: .25>0, .25<.75, 1>0, 1>.75
    assert rows[4]["precision"] == pytest.approx(2 / 3) and rows[4]["roc_auc"] == pytest.approx(3 / 4)


def test_a_prm_on_exact_labels_reaches_step_roc_auc_0_9_on_held_out_traces(tmp_path):
    config = PRMConfig(policy=str(slip_model_dir()), task=SLIP_TASK, difficulty=SLIP_DIFFICULTY, n_problems=300,
                       eval_problems=50, samples=1, max_new_tokens=80, max_steps=250, batch_size=32, learning_rate=3e-3)
    report = train_prm(config, tmp_path / "prm", show_progress=False)
    assert report["step_roc_auc"] >= 0.9, report
    assert 0.2 < report["eval_good_step_share"] < 0.8  # both classes are well represented
    assert json.loads((tmp_path / "prm" / "eval.json").read_text()) == report
    assert (tmp_path / "prm" / "report.html").is_file()
    # the saved folder is an ordinary HF token-classification model with one score
    assert AutoModelForTokenClassification.from_pretrained(tmp_path / "prm" / "final").config.num_labels == 1


def test_math_shepherd_labels_train_a_prm_that_guides_beam_search(tmp_path):
    config = PRMConfig(policy=str(toy_model_dir()), task=TASK, difficulty=DIFFICULTY, labels="mc-soft", rollouts=4,
                       n_problems=12, eval_problems=6, samples=1, max_new_tokens=60, max_steps=4, batch_size=8)
    report = train_prm(config, tmp_path / "prm", show_progress=False)
    rows = report["agreement"]
    assert [row["rollouts"] for row in rows] == [1, 2, 4]
    recalls = [row["recall"] for row in rows]
    assert recalls == sorted(recalls)  # "any of the first n rollouts is right" only grows with n
    assert (tmp_path / "prm" / "agreement.png").is_file()

    model, tokenizer = load_model(toy_model_dir())
    task = get_task(TASK)
    problems = list(task.problems(3, seed=5, difficulty=DIFFICULTY))
    context = SearchContext(Policy(model, tokenizer, max_new_tokens=60), make_verifier(f"prm:{tmp_path / 'prm'}", task),
                            task, SearchConfig(budget=4, beam_width=2))
    results = STRATEGIES["beam"](context, problems)
    assert all(r.budget.verifier_flops > 0 and r.score == max(r.candidate_scores) for r in results)


@pytest.mark.parametrize("settings, fragment", [
    (dict(kind="xrm"), "--kind must be one of"),
    (dict(labels="guess"), "--labels must be one of"),
    (dict(n_problems=0), "--problems must be at least 1"),
    (dict(rollouts=0), "--rollouts must be at least 1"),
    (dict(samples=-1), "--samples must be 0"),
    (dict(learning_rate=-1.0), "--lr must be a positive number"),
    (dict(learning_rate=float("nan")), "--lr must be a positive number"),
    (dict(learning_rate=float("inf")), "--lr must be a positive number"),
    (dict(max_new_tokens=1), "max_new_tokens must be more than the"),
])
def test_bad_prm_settings_are_one_sentence_before_any_work(tmp_path, settings, fragment):
    from arborlab.errors import ArborError

    config = PRMConfig(policy=str(toy_model_dir()), task=TASK, difficulty=DIFFICULTY, **settings)
    with pytest.raises(ArborError, match=re.escape(fragment)):
        train_prm(config, tmp_path / "prm", show_progress=False)
    assert not (tmp_path / "prm").exists()


def test_an_interrupted_prm_run_resumes_without_sampling_again(tmp_path, monkeypatch):
    """Killed in training, after its traces and Math-Shepherd rollouts: the rerun samples only the
    held-out traces, and its evaluation equals a straight run's."""
    from arborlab.search.steps import Policy
    from arborlab.train import prm

    config = dict(policy=str(toy_model_dir()), task=TASK, difficulty=DIFFICULTY, labels="mc-hard", rollouts=2, n_problems=8,
                  eval_problems=6, samples=1, max_new_tokens=60, max_steps=5, batch_size=8)
    straight = train_prm(PRMConfig(**config), tmp_path / "straight", show_progress=False)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prm, "fit", killed)
    with pytest.raises(KeyboardInterrupt):
        train_prm(PRMConfig(**config), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists() and (tmp_path / "run.partial" / "pieces.jsonl").is_file()
    monkeypatch.undo()
    calls, real_complete = [], Policy.complete
    monkeypatch.setattr(Policy, "complete", lambda self, traces, *a: calls.append(len(traces)) or real_complete(self, traces, *a))
    resumed = train_prm(PRMConfig(**config), tmp_path / "run", show_progress=False)
    assert calls == [6]  # the held-out traces (samples=1 per problem), nothing of the training side
    assert resumed == straight and not (tmp_path / "run.partial").exists()
