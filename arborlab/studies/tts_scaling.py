"""Test-time compute on a toy model: do the shapes of the published findings hold? (issue 6)

Three findings of the test-time-compute literature, checked with a toy policy, a PRM trained on its
own traces and `arbor scaling`'s grid of strategies × budgets × difficulty bins:

(a) self-consistency beats greedy decoding (Wang et al. 2023): majority vote at the largest budget
    against greedy, on all test problems. Agrees when vote's accuracy is higher.
(b) PRM beam search beats best-of-N at low budgets on hard problems, and best-of-N catches up at
    high budgets (Snell et al. 2024, figure 3): in the hardest difficulty bin, beam's minus
    best-of-N's accuracy at the lowest budget above 1 and at the highest budget. Agrees when beam
    leads at the low budget and the lead is smaller (or reversed) at the high one.
(c) compute-optimal selection beats any single strategy at equal compute (Snell et al. 2024,
    figure 4): the compute-optimal line (a strategy per difficulty bin, chosen on validation)
    against the best fixed strategy (the one with the highest mean test accuracy over the budgets,
    chosen with hindsight), budget by budget. Agrees when its mean lead over the budgets is positive.

A finding is "untestable" when the grid cannot test it (one budget above 1 for (b), or a hardest bin
with no test problem), never a guess. "Equal compute" is equal N (generations per problem); the
FLOPs each point cost are in the scaling table.

The study folder holds one stage per subfolder, each reused when a rerun finds it finished:
``policy/`` (an SFT run on the demo's settings, unless a model folder is given), ``prm/`` (a PRM on
the policy's own traces with exact step labels from the task's step checker) and ``scaling/``
(`run_scaling`'s outputs); then ``findings.json``, ``findings.png`` and ``report.html``.

    arbor study tts --out runs/study-tts
    arbor study tts --out runs/study-tts-demo --model runs/demo/final
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from rich.table import Table

from arborlab.demo import DEMO
from arborlab.errors import ArborError
from arborlab.io import atomic_file
from arborlab.models import load_model
from arborlab.report import image, plt, save_figure, table, write_report
from arborlab.search.base import SearchConfig
from arborlab.search.scaling import COMPUTE_OPTIMAL, run_scaling, table_rows
from arborlab.search.steps import OPENING_LINE, check_room
from arborlab.studies.common import trained_model
from arborlab.tasks import get_task
from arborlab.tokenizer import build_tokenizer
from arborlab.train.prm import PRMConfig, train_prm
from arborlab.train.sft import SFTConfig

#: the strategies of the grid: greedy, self-consistency, best-of-N and beam search (the last two with the PRM)
STRATEGIES = ("greedy", "vote", "best-of-n", "beam")
AGREES, DISAGREES, UNTESTABLE = "agrees", "disagrees", "untestable"


@dataclass
class TTSStudy:
    """Settings of the study. The policy is `model_dir` when given, else trained on the demo's settings."""

    task: str = "countdown"
    difficulty: dict[str, Any] | None = None  # None: the demo's (countdown with 3 numbers), or the task's defaults
    model_dir: str = ""  # an existing policy folder (or a run folder holding final/); empty: train one
    train_steps: int = DEMO["max_steps"]  # SFT steps of the trained policy
    sft: dict[str, Any] = field(default_factory=dict)  # SFTConfig fields overriding the demo's (tests: a tiny model)
    prm_problems: int = 400  # training problems of the PRM (its traces: the policy's samples and the task's)
    prm_eval_problems: int = 100
    prm_samples: int = 2  # policy completions per PRM training problem
    prm_steps: int = 300
    prm_batch_size: int = 32
    prm_learning_rate: float = 1e-3
    budgets: tuple[int, ...] = (1, 2, 4, 8, 16)
    n_problems: int = 100  # each of the validation and test splits of the scaling grid
    bins: int = 4
    difficulty_samples: int = 16  # samples per problem that estimate its difficulty (the policy's pass rate)
    beam_width: int = 4
    temperature: float = 1.0
    max_new_tokens: int = DEMO["max_new_tokens"]
    seed: int = 0

    def check(self) -> None:
        """Reject bad settings (one sentence) and fill in the difficulty, before anything is written."""
        task = get_task(self.task)
        if self.difficulty is None:
            self.difficulty = dict(DEMO["difficulty"]) if self.task == DEMO["task"] else {}
        self.difficulty = task.difficulty(self.difficulty)
        self.budgets = tuple(sorted(set(self.budgets)))
        if not self.budgets or self.budgets[0] < 1 or self.budgets[-1] < 2:
            raise ArborError(f"--budgets takes positive integers with at least one above 1 (the findings compare budgets), "
                             f"got {','.join(map(str, self.budgets)) or 'none'}.")
        if self.bins < 1 or self.n_problems < self.bins:
            raise ArborError(f"--problems ({self.n_problems}) must be at least --bins ({self.bins}), and --bins at least 1.")
        for name in ("train_steps", "difficulty_samples", "max_new_tokens", "prm_problems", "prm_eval_problems", "prm_samples",
                     "prm_steps", "prm_batch_size"):
            if getattr(self, name) < 1:
                raise ArborError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}.")
        self.search_config().check()

    def sft_config(self) -> SFTConfig:
        return SFTConfig(**{**DEMO, "task": self.task, "difficulty": dict(self.difficulty), "max_steps": self.train_steps,
                            "seed": self.seed, **self.sft})

    def prm_config(self, policy: Path | str) -> PRMConfig:
        return PRMConfig(policy=str(policy), task=self.task, difficulty=dict(self.difficulty or {}), kind="prm", labels="exact",
                         n_problems=self.prm_problems, eval_problems=self.prm_eval_problems, samples=self.prm_samples,
                         temperature=self.temperature, max_new_tokens=self.max_new_tokens, max_steps=self.prm_steps,
                         batch_size=self.prm_batch_size, learning_rate=self.prm_learning_rate, seed=self.seed)

    def search_config(self) -> SearchConfig:
        return SearchConfig(temperature=self.temperature, beam_width=self.beam_width, seed=self.seed)


def run_tts_study(study: TTSStudy, out: Path | str, show_progress: bool = True) -> dict:
    """Policy, PRM and scaling grid under `out` (each reused when finished), then the three findings.

    Returns what ``findings.json`` holds: ``findings`` (one dict per finding: ``key``, ``finding``,
    ``verdict``, ``rule``, ``summary``, ``numbers``), ``policy`` and ``prm`` (their folders and
    figures). Writes ``findings.json``, ``findings.png`` and ``report.html`` into `out`.
    """
    out = Path(out)
    study = dataclasses.replace(study, sft=dict(study.sft))
    study.check()
    given = _given_policy(study.model_dir, study.max_new_tokens) if study.model_dir else None
    if given is None:  # the tokenizer SFT will build splits the opening line as one built from it alone does
        check_room(build_tokenizer([OPENING_LINE], study.sft_config().numbers), study.max_new_tokens)
    _record_settings(out, study)
    if given is None:
        trained = trained_model(study.sft_config(), out / "policy", show_progress)
        policy = {"folder": str(out / "policy" / "final"), "trained_here": True, "train_steps": trained["train_steps"],
                  "train_seconds": trained["train_seconds"], "greedy_test_accuracy": trained["test_accuracy"],
                  "greedy_test_n": trained["test_n"]}
    else:
        policy = {"folder": str(given), "trained_here": False}
    prm_folder = out / "prm"
    if not (prm_folder / "eval.json").is_file():
        train_prm(study.prm_config(policy["folder"]), prm_folder, show_progress=show_progress)
    prm_eval = json.loads((prm_folder / "eval.json").read_text())
    prm = {"folder": str(prm_folder), **{k: prm_eval.get(k) for k in ("step_roc_auc", "outcome_roc_auc", "eval_good_step_share",
                                                                        "train_traces", "final_loss")}}
    scaling_folder = out / "scaling"
    if not (scaling_folder / "scaling.json").is_file():
        run_scaling(policy["folder"], study.task, study.budgets, STRATEGIES, f"prm:{prm_folder}", study.search_config(),
                    study.n_problems, scaling_folder, study.difficulty, study.bins, study.difficulty_samples,
                    study.max_new_tokens, show_progress=show_progress)
    report = json.loads((scaling_folder / "scaling.json").read_text())
    result = {"findings": findings(report), "policy": policy, "prm": prm, "scaling": str(scaling_folder)}
    with atomic_file(out / "findings.json") as stream:
        json.dump(result, stream, indent=2)
    _write_report(out, study, result, report)
    return result


def _given_policy(model_dir: str, max_new_tokens: int) -> Path:
    """The policy folder `model_dir` (or its final/), checked to load as a causal LM with a tokenizer
    that leaves room for `max_new_tokens` after the opening line."""
    folder = Path(model_dir)
    if (folder / "final" / "config.json").is_file():
        folder = folder / "final"
    _, tokenizer = load_model(folder)
    if tokenizer is None:
        raise ArborError(f"{folder} has no tokenizer; the policy needs the one it was trained with beside it.")
    check_room(tokenizer, max_new_tokens)
    return folder


def _record_settings(out: Path, study: TTSStudy) -> None:
    """Write the settings to out/study.json, or check that a rerun asks for the same ones."""
    settings = json.loads(json.dumps(dataclasses.asdict(study)))
    record = out / "study.json"
    if record.is_file():
        before = json.loads(record.read_text())
        changed = sorted(k for k in set(before) | set(settings) if before.get(k) != settings.get(k))
        if changed:
            raise ArborError(f"the study folder {out} was run with other settings ({', '.join(changed)}); "
                             f"rerun with the same settings to resume, or choose a new --out.")
        return
    with atomic_file(record) as stream:
        json.dump(settings, stream, indent=2)


# ---- the findings, from a scaling report ----------------------------------------------------------


def _entry(report: dict, strategy: str, budget: int, bin_: str = "all") -> dict | None:
    """The test-split entry of (strategy, budget, bin) in `report`, or None when it has none."""
    return next((e for e in report["test"] if (e["strategy"], e["budget"], e["bin"]) == (strategy, budget, bin_)), None)


def findings(report: dict) -> list[dict]:
    """The three findings judged on a scaling report (``scaling.json`` of `run_scaling`).

    Needs test entries for greedy (budget 1), vote, best-of-n, beam and the compute-optimal line
    at the report's budgets. Each finding: key, finding, verdict (agrees / disagrees / untestable),
    rule, summary (one line) and numbers (what the verdict rests on).
    """
    return [self_consistency(report), beam_against_best_of_n(report), compute_optimal_against_fixed(report)]


def self_consistency(report: dict) -> dict:
    """(a) majority vote at the largest budget against greedy, on all test problems."""
    top = max(report["budgets"])
    greedy, vote = _entry(report, "greedy", 1), _entry(report, "vote", top)
    numbers = {"budget": top, "greedy_accuracy": greedy["accuracy"], "vote_accuracy": vote["accuracy"],
               "difference": vote["accuracy"] - greedy["accuracy"], "n": vote["n"],
               "vote_by_budget": {str(b): _entry(report, "vote", b)["accuracy"] for b in report["budgets"]}}
    return {
        "key": "self-consistency", "finding": "self-consistency beats greedy",
        "verdict": AGREES if numbers["difference"] > 0 else DISAGREES,
        "rule": "agrees when majority vote at the largest budget is more accurate than greedy decoding on all test problems",
        "summary": f"vote@{top} {vote['accuracy']:.1%} vs greedy {greedy['accuracy']:.1%} "
                   f"({_points(numbers['difference'])}, {vote['n']} test problems)",
        "numbers": numbers,
    }


def beam_against_best_of_n(report: dict) -> dict:
    """(b) beam minus best-of-N accuracy in the hardest bin, at the lowest budget above 1 and the highest."""
    hardest = str(report["bins"])
    above = [b for b in report["budgets"] if b > 1]
    low, high = min(above, default=None), max(report["budgets"])
    base = {"key": "beam-vs-best-of-n", "finding": "PRM beam search beats best-of-N at low budgets on hard problems; "
                                                    "best-of-N catches up at high budgets",
            "rule": f"agrees when, in the hardest bin ({hardest}), beam leads best-of-N at the lowest budget above 1 "
                    f"and its lead is smaller (or reversed) at the highest budget"}
    numbers: dict[str, Any] = {"bin": hardest, "low_budget": low, "high_budget": high}
    if low is None:
        return {**base, "verdict": UNTESTABLE, "numbers": numbers, "summary": "no budget above 1 was run"}
    entries = {(s, b): _entry(report, s, b, hardest) for s in ("beam", "best-of-n") for b in (low, high)}
    if any(e is None for e in entries.values()):
        return {**base, "verdict": UNTESTABLE, "numbers": numbers,
                "summary": f"the hardest bin ({hardest}) holds no test problem; use more --problems or fewer --bins"}
    for which, budget in (("low", low), ("high", high)):
        numbers[f"beam_{which}"] = entries[("beam", budget)]["accuracy"]
        numbers[f"best_of_n_{which}"] = entries[("best-of-n", budget)]["accuracy"]
        numbers[f"gap_{which}"] = numbers[f"beam_{which}"] - numbers[f"best_of_n_{which}"]
    numbers["n"] = entries[("beam", low)]["n"]
    summary = (f"hardest bin, beam − best-of-N: {_points(numbers['gap_low'])} at N={low}, "
               f"{_points(numbers['gap_high'])} at N={high} ({numbers['n']} test problems)")
    if low == high:
        return {**base, "verdict": UNTESTABLE, "numbers": numbers,
                "summary": summary + "; one budget above 1 cannot show a gap closing"}
    holds = numbers["gap_low"] > 0 and numbers["gap_high"] < numbers["gap_low"]
    return {**base, "verdict": AGREES if holds else DISAGREES, "numbers": numbers, "summary": summary}


def compute_optimal_against_fixed(report: dict) -> dict:
    """(c) the compute-optimal line against the best fixed strategy, budget by budget (all test problems).

    The fixed strategies are those run at every budget (greedy runs at N=1 only); the best has the
    highest mean test accuracy over the budgets (fewer mean FLOPs, then the name, on a tie). Each
    budget's best strategy (with hindsight, on test) is reported beside it.
    """
    budgets = report["budgets"]
    base = {"key": "compute-optimal", "finding": "compute-optimal selection beats the best single strategy at equal compute",
            "rule": "agrees when the compute-optimal line's test accuracy, averaged over the budgets, exceeds that of the best "
                    "fixed strategy (highest mean test accuracy over the budgets, chosen with hindsight)"}
    fixed = [s for s in report["strategies"] if all(_entry(report, s, b) for b in budgets)]
    everyone = _entry(report, "greedy", 1)["n"]  # every test problem
    missing = [b for b in budgets if (_entry(report, COMPUTE_OPTIMAL, b) or {"n": 0})["n"] < everyone]
    if missing or not fixed:
        return {**base, "verdict": UNTESTABLE, "numbers": {"budgets_without_full_compute_optimal": missing},
                "summary": "some test problems fell in difficulty bins that no validation problem fell in, so the "
                           "compute-optimal line does not cover them; use more --problems"}

    def mean(strategy: str, field_: str) -> float:
        return sum(_entry(report, strategy, b)[field_] for b in budgets) / len(budgets)

    best = max(fixed, key=lambda s: (mean(s, "accuracy"), -mean(s, "flops"), s))
    per_budget = []
    for budget in budgets:
        optimal, chosen = _entry(report, COMPUTE_OPTIMAL, budget)["accuracy"], _entry(report, best, budget)["accuracy"]
        options = [(s, _entry(report, s, budget)) for s in report["strategies"]]
        top = max(((s, e) for s, e in options if e), key=lambda pair: (pair[1]["accuracy"], -pair[1]["flops"], pair[0]))
        per_budget.append({"budget": budget, "compute_optimal": optimal, "fixed": chosen, "difference": optimal - chosen,
                           "best_at_budget": top[0], "best_at_budget_accuracy": top[1]["accuracy"]})
    mean_difference = sum(row["difference"] for row in per_budget) / len(per_budget)
    at_least = sum(row["difference"] >= 0 for row in per_budget)
    at_least_per_budget_best = sum(row["compute_optimal"] >= row["best_at_budget_accuracy"] for row in per_budget)
    numbers = {"fixed_strategy": best, "mean_difference": mean_difference, "budgets_at_least_fixed": at_least,
               "budgets_at_least_best_at_budget": at_least_per_budget_best, "budgets": len(budgets), "per_budget": per_budget}
    return {
        **base, "verdict": AGREES if mean_difference > 0 else DISAGREES,
        "summary": f"compute-optimal − {best}: {_points(mean_difference)} on average; ≥ at {at_least} of {len(budgets)} "
                   f"budgets (≥ each budget's best strategy at {at_least_per_budget_best})",
        "numbers": numbers,
    }


def _points(difference: float) -> str:
    return f"{100 * difference:+.1f} points"


def findings_table(found: Sequence[dict]) -> Table:
    """The findings as a rich table: finding, verdict, the numbers behind it."""
    colors = {AGREES: "green", DISAGREES: "red", UNTESTABLE: "yellow"}
    view = Table(title="test-time compute on the toy model: the published findings (measured in this study)")
    view.add_column("finding")
    view.add_column("verdict")
    view.add_column("measured")
    for item in found:
        view.add_row(item["finding"], f"[{colors[item['verdict']]}]{item['verdict']}[/]", item["summary"])
    return view


# ---- report ---------------------------------------------------------------------------------------


def plot_findings(report: dict, found: Sequence[dict], path: Path) -> Path:
    """One panel per finding: the accuracies behind it against the budget N."""
    budgets = report["budgets"]
    figure, axes = plt.subplots(1, 3, figsize=(12, 3.4), sharey=True)
    by_key = {item["key"]: item for item in found}

    def line(axis, strategy: str, bin_: str = "all", **style) -> None:
        points = [(b, e["accuracy"]) for b in budgets if (e := _entry(report, strategy, b, bin_))]
        if points:
            axis.plot(*zip(*points), marker="o", markersize=3, label=strategy, **style)

    axis = axes[0]
    line(axis, "vote")
    axis.axhline(_entry(report, "greedy", 1)["accuracy"], color="gray", linestyle="--", label="greedy")
    axis.set(title=f"(a) self-consistency: {by_key['self-consistency']['verdict']}", ylabel="test accuracy")
    hardest = str(report["bins"])
    axis = axes[1]
    line(axis, "beam", hardest)
    line(axis, "best-of-n", hardest)
    axis.set(title=f"(b) hardest bin ({hardest}): {by_key['beam-vs-best-of-n']['verdict']}")
    axis = axes[2]
    line(axis, COMPUTE_OPTIMAL, color="black", linestyle="--")
    if "fixed_strategy" in by_key["compute-optimal"]["numbers"]:
        line(axis, by_key["compute-optimal"]["numbers"]["fixed_strategy"])
    axis.set(title=f"(c) compute-optimal: {by_key['compute-optimal']['verdict']}")
    for axis in axes:
        axis.set(xscale="log", xlabel="budget N (generations per problem)", ylim=(-0.02, 1.02))
        axis.set_xticks(budgets, [str(b) for b in budgets])
        axis.minorticks_off()
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    return save_figure(figure, path)


def _write_report(out: Path, study: TTSStudy, result: dict, report: dict) -> None:
    found = result["findings"]
    plot = plot_findings(report, found, out / "findings.png")
    policy, prm = result["policy"], result["prm"]
    about = [{"what": "policy", "value": policy["folder"]}]
    if policy["trained_here"]:
        about.append({"what": "policy: greedy accuracy at the end of SFT",
                      "value": f"{policy['greedy_test_accuracy']:.1%} of {policy['greedy_test_n']} test problems"})
        about.append({"what": "policy: SFT steps, seconds", "value": f"{policy['train_steps']}, {policy['train_seconds']:.0f}"})
    about += [{"what": f"PRM: {name.replace('_', ' ')} (held out)", "value": prm[name]}
              for name in ("step_roc_auc", "outcome_roc_auc", "eval_good_step_share")]
    bins = [{"bin": e["bin"], "test problems": e["n"]} for e in report["test"]
            if e["strategy"] == "greedy" and e["bin"] != "all"]
    picks = [{"budget": b, **{f"bin {k}": s for k, s in p.items()}} for b, p in report["compute_optimal_picks"].items()]
    caveats = (
        "<p>Each verdict follows its stated rule on the numbers measured here, nothing else; with few test problems per "
        "bin a difference of one problem moves an accuracy by 100/n points, so read small gaps as ties. The best fixed "
        "strategy of (c) is chosen on the test split with hindsight (a strict baseline); the compute-optimal line chooses on "
        "the validation split. Budgets are generations per problem (N); FLOPs per point, the PRM's included, are in the "
        "table. Greedy runs at N=1 only.</p>"
    )
    sections = [
        ("findings", table([{"finding": f["finding"], "verdict": f["verdict"], "measured": f["summary"], "rule": f["rule"]}
                            for f in found])),
        ("the accuracies behind each finding", image(plot)),
        ("accuracy against compute, by difficulty bin (test split)", image(Path(result["scaling"]) / "scaling.png")),
        ("table (test split; accuracy overall and by difficulty bin, mean compute per problem)", table(table_rows(report))),
        ("compute-optimal picks (chosen on the validation split)", table(picks)),
        ("policy and PRM", table(about) + "<p>Test problems per difficulty bin (bin 1 easiest):</p>" + table(bins)),
        ("how to read it", caveats),
        ("numbers behind the findings", f"<pre>{json.dumps([{f['key']: f['numbers']} for f in found], indent=2)}</pre>"),
        ("settings", table([{"setting": k, "value": v} for k, v in dataclasses.asdict(study).items()])),
    ]
    write_report(out / "report.html", f"Test-time compute on a toy {study.task} model: the published findings", sections)
