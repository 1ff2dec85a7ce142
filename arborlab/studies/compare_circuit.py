"""Research check: which components of an SFT-trained compare model carry its yes/no decision?

1. Train (or, when ``out/model/final`` exists, reuse) a toy Llama on direct compare traces.
2. Direct logit attribution of logit(correct) − logit(wrong) over held-out problems ranks every head
   and MLP by how much it writes to the answer.
3. Activation patching on minimal pairs (one number changes, the answer flips), denoising and
   noising, over the residual stream, heads and MLPs.
4. Necessity: noising the top-k components together (their activations from the corrupted prompt
   put into the clean run) should take the normalized metric from 1 towards 0; noising the k
   components that write least should not. Sufficiency: the same sets, denoising.

The logit lens, DLA and patching sections come from `arborlab.interp.reports`; this module adds the
training, the ranking and the necessity test, and writes ``out/report.html`` and ``out/summary.json``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from arborlab.interp.attribution import direct_logit_attribution
from arborlab.interp.model import HookedModel, parse_component
from arborlab.interp.patching import minimal_pairs, patch_components
from arborlab.interp.prompts import answer_prompt_ids, answer_tokens, logit_diff
from arborlab.interp.reports import dla_study, lens_study, patch_study
from arborlab.io import atomic_file
from arborlab.report import image, plt, save_figure, table, write_report
from arborlab.tasks import get_task
from arborlab.train.sft import SFTConfig, train_sft


@dataclass
class CircuitStudy:
    """Settings of the study: the model and its training, and how many problems and pairs it reads."""

    # small numbers with dominance shortcuts allowed: learnable from scratch in minutes on a CPU
    difficulty: dict[str, Any] = field(default_factory=lambda: {"max_value": 10, "shortcuts": True})
    preset: str = "1m"
    model: dict[str, Any] = field(default_factory=lambda: dict(
        hidden_size=64, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4))
    n_problems: int = 8_000
    max_steps: int = 1500
    batch_size: int = 64
    learning_rate: float = 3e-3
    n_eval: int = 256
    n_pairs: int = 64
    top_k: int = 3
    seed: int = 0


def train(study: CircuitStudy, out: Path, show_progress: bool = True) -> Path:
    """The trained model's folder (training it unless a finished run is there)."""
    run = out / "model"
    if not (run / "final").exists():
        config = SFTConfig(
            task="compare", style="direct", difficulty=study.difficulty, n_problems=study.n_problems, preset=study.preset,
            model=study.model, batch_size=study.batch_size, max_steps=study.max_steps, learning_rate=study.learning_rate,
            warmup_steps=min(100, study.max_steps // 10), eval_every=10**9, final_eval_problems=200, checkpoint_every=500,
            max_new_tokens=12, seed=study.seed,
        )
        train_sft(config, run, resume=(run / "config.toml").exists(), show_progress=show_progress)
    return run / "final"


def rank_components(hm: HookedModel, study: CircuitStudy) -> tuple[list[dict[str, Any]], float]:
    """Heads and MLPs by mean |DLA| to logit(correct) − logit(wrong) on held-out problems, and the model's accuracy."""
    task = get_task("compare")
    problems = list(task.problems(study.n_eval, study.seed + 1, study.difficulty))
    good, bad = answer_tokens(hm.tokenizer, task, problems)
    with torch.no_grad():
        logits, cache = hm.run_with_cache(answer_prompt_ids(hm.tokenizer, task, problems))
    attributions, labels = direct_logit_attribution(hm, cache, good, bad)
    rows = [dict(component=label, mean_dla=float(row.mean()), mean_abs_dla=float(row.abs().mean()))
            for label, row in zip(labels, attributions) if parse_component(label)]
    accuracy = float((logit_diff(logits, good, bad) > 0).float().mean())
    return sorted(rows, key=lambda r: -r["mean_abs_dla"]), accuracy


def necessity(hm: HookedModel, ranked: list[dict[str, Any]], study: CircuitStudy) -> list[dict[str, Any]]:
    """Noising and denoising of the top-k components (together and one by one) and of the bottom k."""
    pairs = minimal_pairs(hm, get_task("compare"), study.n_pairs, study.seed, study.difficulty)
    names = [r["component"] for r in ranked]
    sets = {f"top {study.top_k} together": names[: study.top_k], f"bottom {study.top_k} together": names[-study.top_k:]}
    sets.update({f"top: {name}": [name] for name in names[: study.top_k]})
    return [dict(components=" ".join(chosen), label=label,
                 noising=patch_components(hm, pairs, chosen, "noising"),
                 denoising=patch_components(hm, pairs, chosen, "denoising")) for label, chosen in sets.items()]


def run_compare_circuit(study: CircuitStudy, out: Path | str, show_progress: bool = True) -> dict[str, Any]:
    """Run the whole study into `out` (rerun to resume training); returns the summary."""
    out = Path(out)
    model_dir = train(study, out, show_progress)
    hm = HookedModel.from_pretrained(model_dir)
    settings = dict(model_dir=str(model_dir), task="compare", difficulty=study.difficulty, n=study.n_eval,
                    seed=study.seed + 1, field=None)
    sections = []
    for name, factory in (("lens", lens_study), ("dla", dla_study)):
        _, found = factory(settings)(hm, out)
        sections += found
    _, found = patch_study({**settings, "n": study.n_pairs, "seed": study.seed})(hm, out)
    sections += found
    ranked, accuracy = rank_components(hm, study)
    tests = necessity(hm, ranked, study)
    figure, axis = plt.subplots(figsize=(8, 3.5))
    x = range(len(tests))
    axis.bar([i - 0.2 for i in x], [t["noising"] for t in tests], width=0.4, label="noising (0: necessary)")
    axis.bar([i + 0.2 for i in x], [t["denoising"] for t in tests], width=0.4, label="denoising (1: sufficient)")
    axis.set_xticks(list(x), [t["label"] for t in tests], rotation=20, fontsize=8)
    axis.axhline(0, color="grey", lw=0.5)
    axis.axhline(1, color="grey", lw=0.5, ls=":")
    axis.set(ylabel="normalized logit difference", title="patching the components DLA ranks highest and lowest")
    axis.legend(loc="upper left", bbox_to_anchor=(1, 1))
    save_figure(figure, out / "necessity.png")
    summary = {"study": asdict(study), "accuracy": accuracy, "ranking": ranked, "necessity": tests}
    top, bottom = tests[0], tests[1]
    text = (f"<p>Greedy accuracy at the answer position on {study.n_eval} held-out problems: {accuracy:.1%}. "
            f"Noising the top {study.top_k} components ({top['components']}) leaves {top['noising']:.3f} of the clean "
            f"logit difference (0 = corrupted); noising the bottom {study.top_k} ({bottom['components']}) leaves "
            f"{bottom['noising']:.3f}.</p>")
    sections = [("necessity of the top components", text + image(out / "necessity.png") + table(tests)),
                ("components ranked by direct logit attribution", table(ranked))] + sections
    write_report(out / "report.html", "compare: the components that carry the decision", sections)
    with atomic_file(out / "summary.json") as stream:
        json.dump(summary, stream, indent=2)
    return summary
