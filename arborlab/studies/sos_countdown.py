"""Countdown-4 in Stream-of-Search's own setting, on a CPU toy model.

Stream-of-Search (Gandhi et al. 2024) trains on countdown with 4 numbers and targets 10–100 (integer
steps), holding 10% of the targets out entirely, and grades problems with seen and with unseen
targets. Their ~250M-parameter GPU model reached about 57% (seen targets) and 54% (unseen) after
SoS + APA. Here: toy models trained on DFS, BFS and best-first search traces for a wall-clock budget
on this machine (turned into a token budget by a short calibration run, so schedules are exact and
runs resume), graded greedily on held-out problems with seen and with unseen targets.

    arbor study sos --out runs/study-sos --minutes 15,60
"""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from arborlab.data import make_dataset
from arborlab.demo import DEMO
from arborlab.io import atomic_file
from arborlab.report import image, plt, save_figure, table, write_report
from arborlab.runs import RunFolder
from arborlab.studies.common import accuracy_on, trained_model
from arborlab.train.sft import ExamplesDoNotFit, SFTConfig, check_sft_config, train_sft

#: Stream-of-Search's best published figures (SoS + APA), for the report's reference lines
SOS_SEEN, SOS_UNSEEN = 0.57, 0.54


@dataclass
class SoSStudy:
    """Settings of the study (Stream-of-Search's task; a toy model's training)."""

    difficulty: dict[str, Any] = field(default_factory=lambda: {"n_numbers": 4, "min_target": 10, "max_target": 100})
    unseen_share: float = 0.1  # share of the targets never trained on
    orders: tuple[str, ...] = ("dfs", "bfs", "best-first")
    minutes: tuple[float, ...] = (15, 60)
    n_problems: int = 100_000
    # the demo's size: with Muon and the demo's number embeddings, 15 minutes of DFS traces gave
    # 48.3% seen / 37.3% unseen (session 12), where the 3m preset with AdamW and random
    # embeddings had given 2.3% / 2.3% (session 6)
    preset: str = "1m"
    model: dict[str, Any] = field(default_factory=dict)
    # the demo's number embeddings and optimizer (sessions 6-8 ran this study with random
    # embeddings and AdamW)
    number_init: str = DEMO["number_init"]
    optimizer: str = DEMO["optimizer"]
    batch_size: int = 12
    learning_rate: float = 2e-3
    warmup_steps: int = 100
    eval_problems: int = 300  # each of seen and unseen
    max_length: int = 1024
    max_new_tokens: int = 1984  # the presets' 2048 positions, less room for the prompt
    calibration_steps: int = 40
    seed: int = 0

    def unseen_targets(self) -> list[int]:
        low, high = self.difficulty["min_target"], self.difficulty["max_target"]
        targets = list(range(low, high + 1))
        count = max(1, round(self.unseen_share * len(targets)))
        return sorted(random.Random(f"unseen:{self.seed}").sample(targets, count))

    def sft_config(self, data_dir: Path, **settings) -> SFTConfig:
        defaults = dict(
            task="countdown", style="search", difficulty=dict(self.difficulty), data_dir=str(data_dir), preset=self.preset,
            model=dict(self.model), number_init=self.number_init, optimizer=self.optimizer, seed=self.seed, batch_size=self.batch_size, learning_rate=self.learning_rate,
            warmup_steps=self.warmup_steps, eval_every=10**9, final_eval_problems=self.eval_problems,
            checkpoint_every=200, max_new_tokens=self.max_new_tokens, max_length=self.max_length,
        )
        return SFTConfig(**{**defaults, **settings})


def run_sos_study(study: SoSStudy, out: Path | str, show_progress: bool = True) -> list[dict]:
    """Train and grade one model per (order, budget) under `out`; writes results.json, a plot and report.html."""
    out = Path(out)
    check_sft_config(study.sft_config(out / "data"))  # a bad preset or model setting, before minutes of data
    out.mkdir(parents=True, exist_ok=True)
    (out / "study.json").write_text(json.dumps(dataclasses.asdict(study), indent=2))
    unseen = study.unseen_targets()
    rate = None
    results = []
    for order in study.orders:
        data_dir, seen_rows, unseen_rows = _dataset(study, order, out / f"data-{order}", unseen, show_progress)
        rate = rate or _tokens_per_second(study, data_dir, out / "calibration", show_progress)
        for minutes in study.minutes:
            folder = out / f"{order}-{minutes:g}min"
            config = study.sft_config(data_dir, order=order, token_budget=int(rate * minutes * 60))
            refusal = _refusal(folder, study)
            try:
                trained = None if refusal else trained_model(config, folder, show_progress)
            except ExamplesDoNotFit as error:  # this order's traces do not fit the model: say so, go on
                refusal = str(error)
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "not_trained.json").write_text(json.dumps({"max_length": study.max_length, "reason": refusal}))
            outcome = {"not_trained": refusal} if refusal else {
                "train_tokens": trained["train_tokens"],
                "train_seconds": trained["train_seconds"],
                "seen_accuracy": _cached_accuracy(folder / "seen.json", folder, seen_rows, study),
                "unseen_accuracy": _cached_accuracy(folder / "unseen.json", folder, unseen_rows, study),
                "n_each": len(seen_rows),
            }
            results.append({"order": order, "budget_minutes": minutes, **outcome})
            (out / "results.json").write_text(json.dumps(results, indent=2))
    _write_report(out, study, results, unseen, rate)
    return results


def _dataset(study: SoSStudy, order: str, folder: Path, unseen: list[int], show_progress: bool) -> tuple[Path, list[dict], list[dict]]:
    """A search-trace dataset without unseen targets in train; graded rows with seen and unseen targets.

    Seen: test-split problems (held out by hash) whose target was trained on. Unseen: problems of any
    split whose target is one of `unseen` (none of them is in the training file).
    """
    if not (folder / "test.parquet").is_file():
        make_dataset("countdown", study.n_problems, "search", folder, study.seed, study.difficulty, order, overwrite=True,
                     show_progress=show_progress)
    splits = {name: pq.read_table(folder / f"{name}.parquet") for name in ("train", "val", "test")}
    unseen_set = set(unseen)
    is_unseen = {name: [json.loads(p)["target"] in unseen_set for p in t.column("problem").to_pylist()] for name, t in splits.items()}
    train = splits["train"]
    if any(is_unseen["train"]):
        kept = train.filter(pa.array([not u for u in is_unseen["train"]]))
        with atomic_file(folder / "train.parquet", "wb") as stream:
            pq.write_table(kept, stream)
    rows = {name: t.to_pylist() for name, t in splits.items()}
    seen_rows = [r for r, u in zip(rows["test"], is_unseen["test"]) if not u]
    unseen_rows = [r for name in ("test", "val", "train") for r, u in zip(rows[name], is_unseen[name]) if u]
    count = min(study.eval_problems, len(seen_rows), len(unseen_rows))
    return folder, seen_rows[:count], unseen_rows[:count]


def _tokens_per_second(study: SoSStudy, data_dir: Path, folder: Path, show_progress: bool) -> float:
    """This machine's training speed on the study's model and data, from a short run (after warm-up)."""
    record = folder / "rate.json"
    if not record.is_file():
        steps = study.calibration_steps
        config = study.sft_config(data_dir, max_steps=steps, log_every=steps // 2, final_eval_problems=1, checkpoint_every=10**9)
        train_sft(config, folder, overwrite=True, show_progress=show_progress)
        windows = [m for m in RunFolder(folder).read_metrics() if "tokens_per_second" in m]
        record.write_text(json.dumps({"tokens_per_second": windows[-1]["tokens_per_second"]}))
    return json.loads(record.read_text())["tokens_per_second"]


def _refusal(folder: Path, study: SoSStudy) -> str | None:
    """Why an earlier run of this study could not train `folder`'s model (at the same max_length), or None."""
    record = folder / "not_trained.json"
    refused = json.loads(record.read_text()) if record.is_file() else {}
    return refused["reason"] if refused.get("max_length") == study.max_length else None


def _cached_accuracy(path: Path, folder: Path, rows: list[dict], study: SoSStudy) -> float:
    if not path.is_file():
        path.write_text(json.dumps({"accuracy": accuracy_on(folder, "countdown", rows, study.max_new_tokens)}))
    return json.loads(path.read_text())["accuracy"]


def _write_report(out: Path, study: SoSStudy, results: list[dict], unseen: list[int], rate: float) -> None:
    skipped = [r for r in results if "not_trained" in r]
    results = [r for r in results if "not_trained" not in r]
    figure, axis = plt.subplots(figsize=(7, 3.8))
    width = 0.38
    labels = [f"{r['order']}\n{r['budget_minutes']:g} min" for r in results]
    axis.bar([i - width / 2 for i in range(len(results))], [r["seen_accuracy"] for r in results], width, label="seen targets")
    axis.bar([i + width / 2 for i in range(len(results))], [r["unseen_accuracy"] for r in results], width, label="unseen targets")
    axis.axhline(SOS_SEEN, color="C0", linestyle="--", linewidth=1, label=f"SoS+APA, seen ({SOS_SEEN:.0%})")
    axis.axhline(SOS_UNSEEN, color="C1", linestyle="--", linewidth=1, label=f"SoS+APA, unseen ({SOS_UNSEEN:.0%})")
    axis.set_xticks(range(len(results)), labels)
    axis.set(ylabel="greedy accuracy", ylim=(0, 1.02), title="countdown-4, Stream-of-Search setting, CPU toy models")
    axis.legend(fontsize=8)
    plot = save_figure(figure, out / "sos.png")
    sections = [
        ("result", table(results)),
        *([("not trained", table(skipped))] if skipped else []),
        ("accuracy by search order and budget", image(plot)),
        ("setting", f"<p>Targets never trained on: {', '.join(map(str, unseen))}. Training speed measured here: "
                    f"{rate:,.0f} tokens/s, which turns each budget in minutes into a token budget.</p>"),
        ("settings", table([{"setting": k, "value": v} for k, v in dataclasses.asdict(study).items()])),
    ]
    write_report(out / "report.html", "Countdown-4 in Stream-of-Search's setting", sections)
