"""`arbor scaling` and `arbor search`: the table re-graded from the predictions, compute-optimal picks by brute force."""

import csv
import json
import re
from collections import defaultdict

import pytest

from arborlab.errors import ArborError
from arborlab.search import SearchConfig
from arborlab.search.scaling import run_scaling
from arborlab.tasks import get_task
from tests.search.toy import DIFFICULTY, TASK, toy_model_dir
from tests.test_cli import arbor


def test_scaling_table_and_compute_optimal_line_match_the_graded_predictions(tmp_path):
    out = tmp_path / "scaling"
    report = run_scaling(toy_model_dir(), TASK, [1, 2, 4], ["greedy", "best-of-n", "vote", "beam", "mcts"], "oracle",
                         SearchConfig(beam_width=2), 8, out, DIFFICULTY, bins=2, difficulty_samples=4, max_new_tokens=60,
                         show_progress=False)
    for name in ("scaling.json", "table.csv", "scaling.png", "report.html", "predictions.jsonl"):
        assert (out / name).is_file()
    task = get_task(TASK)
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 8 * (1 + 4 * 3)  # both splits; greedy once, the others at three budgets
    accuracy = defaultdict(list)
    for row in rows:
        verdict = task.verify(row["problem"], row["completion"]).correct
        assert verdict == row["correct"]
        accuracy[(row["split"], row["strategy"], row["budget"], row["bin"])].append(verdict)
    table = {(r["strategy"], int(r["budget"])): r for r in csv.DictReader(open(out / "table.csv"))}
    for (split, strategy, budget, bin_), verdicts in accuracy.items():
        if split == "test":
            assert float(table[(strategy, budget)][f"bin {bin_ + 1}"]) == pytest.approx(sum(verdicts) / len(verdicts))

    def mean(split, strategy, budget, bin_):
        verdicts = accuracy[(split, strategy, budget, bin_)]
        return sum(verdicts) / len(verdicts)

    def flops(strategy, budget, bin_):
        chosen = [r["total_flops"] for r in rows if r["split"] == "val" and (r["strategy"], r["budget"], r["bin"]) == (strategy, budget, bin_)]
        return sum(chosen) / len(chosen)

    for budget in (1, 2, 4):
        test_correct = []
        for bin_ in (0, 1):
            options = [s for s in report["strategies"] if ("val", s, budget, bin_) in accuracy]
            best = max(options, key=lambda s: (mean("val", s, budget, bin_), -flops(s, budget, bin_), s))
            assert report["compute_optimal_picks"][str(budget)][str(bin_ + 1)] == best
            test_correct += accuracy[("test", best, budget, bin_)]
        assert float(table[("compute-optimal", budget)]["accuracy"]) == pytest.approx(sum(test_correct) / len(test_correct))


def test_an_interrupted_scaling_run_resumes_and_equals_a_straight_one(tmp_path, monkeypatch):
    from arborlab.search import scaling

    arguments = dict(model_dir=toy_model_dir(), task_name=TASK, budgets=[1, 2], strategies=["greedy", "best-of-n", "beam"],
                     verifier="oracle", config=SearchConfig(beam_width=2), n_problems=4, difficulty=DIFFICULTY, bins=2,
                     difficulty_samples=2, max_new_tokens=60, show_progress=False)
    straight = run_scaling(out=tmp_path / "straight", **arguments)
    graded, real_grade = [], scaling.grade

    def grade_until_killed(context, strategy, problems):
        if len(graded) == 3:
            raise KeyboardInterrupt  # as a Ctrl-C in the fourth of the five cells
        graded.append((strategy, context.config.budget))
        return real_grade(context, strategy, problems)

    monkeypatch.setattr(scaling, "grade", grade_until_killed)
    with pytest.raises(KeyboardInterrupt):
        run_scaling(out=tmp_path / "run", **arguments)
    assert not (tmp_path / "run").exists() and (tmp_path / "run.partial").is_dir()
    with pytest.raises(ArborError, match=r"run.partial holds an interrupted run with other settings \(bins\)"):
        run_scaling(out=tmp_path / "run", **{**arguments, "bins": 1})
    graded.clear()
    monkeypatch.setattr(scaling, "grade", lambda *a: graded.append(a[1:]) or real_grade(*a))
    resumed = run_scaling(out=tmp_path / "run", **arguments)
    assert [(strategy, len(problems)) for strategy, problems in graded] == [("beam", 8), ("beam", 8)]  # only what was left
    assert not (tmp_path / "run.partial").exists()

    def without_times(report):
        return json.dumps({split: [{k: v for k, v in e.items() if k != "seconds"} for e in report[split]]
                           for split in ("val", "test")}, sort_keys=True)

    assert without_times(resumed) == without_times(straight)


@pytest.mark.parametrize(
    "settings, fragment",
    [
        (dict(strategies=["beem"]), "unknown strategy 'beem'"),
        (dict(budgets=[1, 0]), "--budgets takes positive integers"),
        (dict(verifier="prm"), "unknown verifier 'prm'"),
        (dict(config=SearchConfig(aggregate="max")), "unknown aggregate 'max'"),
        (dict(config=SearchConfig(beam_width=0)), "--beam-width must be at least 1"),
        (dict(n_problems=1), "--problems (1) must be at least --bins (4)"),
        (dict(max_new_tokens=0), "max_new_tokens must be more than the "),
    ],
)
def test_bad_scaling_input_is_one_sentence(tmp_path, settings, fragment):
    arguments = dict(budgets=[1, 2], strategies=["greedy"], verifier="oracle", config=SearchConfig(), n_problems=8)
    with pytest.raises(ArborError, match=re.escape(fragment)):
        run_scaling(toy_model_dir(), TASK, out=tmp_path / "out", **{**arguments, **settings})


def test_search_command_writes_one_graded_line_per_problem(tmp_path):
    code, out, err = arbor("search", str(toy_model_dir()), "--task", TASK, "-d", "kind=unit_price", "-d", "max_value=12",
                           "--strategy", "vote", "--budget", "3", "--problems", "5", "--max-new-tokens", "60",
                           "--out", str(tmp_path / "votes.jsonl"))
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "votes.jsonl").read_text().splitlines()]
    task = get_task(TASK)
    assert len(rows) == 5 and all(task.verify(r["problem"], r["completion"]).correct == r["correct"] for r in rows)
    assert f"accuracy {sum(r['correct'] for r in rows) / 5:.1%} on 5 problems" in " ".join(out.split())


def test_difficulty_bins_break_ties_by_problem_not_by_position(monkeypatch):
    """All pass rates tied: the first half of the list (validation) must not fill the easy bins alone."""
    from arborlab.search import scaling
    from arborlab.search.base import SearchConfig, SearchContext
    from arborlab.tasks import get_task

    task = get_task("countdown")
    problems = list(task.problems(40, seed=0, difficulty={"n_numbers": 3}))
    monkeypatch.setattr(scaling, "pass_rates", lambda context, problems: [0.0] * len(problems))
    context = SearchContext(policy=None, verifier=None, task=task, config=SearchConfig())
    assigned, _ = scaling.difficulty_bins(context, problems, samples=4, bins=2)
    assert sorted(assigned) == [0] * 20 + [1] * 20
    assert 0 < sum(assigned[:20]) < 20  # both halves meet both bins
    by_hash = sorted(range(40), key=lambda i: task.problem_hash(problems[i]))
    assert [assigned[i] for i in by_hash] == [0] * 20 + [1] * 20
