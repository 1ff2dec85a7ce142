"""The interp studies as run folders: each computes its tensors, draws PNGs and writes a report.

Every study writes ``config.toml`` (what to rerun it with), ``summary.json``, its plots and a
self-contained ``report.html`` into a staging folder that replaces ``out`` only when complete.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from arborlab.errors import ArborError
from arborlab.interp.attribution import attribution_by_layer, direct_logit_attribution
from arborlab.interp.lens import logit_lens
from arborlab.interp.model import HookedModel
from arborlab.interp.patching import (
    GRID_AXES, MODES, activation_patching, attribution_patching, correlation, minimal_pairs, require_pairs,
)
from arborlab.interp.probes import LABELS, collect, make_sites, probe_layers
from arborlab.interp.prompts import answer_prompt_ids, answer_token, answer_tokens, answer_words, logit_diff
from arborlab.interp.sweep import SweepResult, require_sweeps, sweep
from arborlab.io import atomic_directory, atomic_file
from arborlab.report import image, plt, save_figure, table, write_report
from arborlab.runs import RunFolder
from arborlab.tasks import get_task

Study = Callable[[HookedModel, Path], tuple[dict[str, Any], list[tuple[str, str]]]]


def run_study(name: str, settings: Mapping[str, Any], out: Path, overwrite: bool, study: Study) -> dict[str, Any]:
    """Load the model, run `study(hm, staging)` -> (summary, report sections), and write the run folder."""
    hm = HookedModel.from_pretrained(settings["model_dir"])
    with atomic_directory(out, overwrite=overwrite) as staging:
        RunFolder(staging).write_config({"study": name, **settings})
        summary, sections = study(hm, staging)
        with atomic_file(staging / "summary.json") as stream:
            json.dump(summary, stream, indent=2)
        settings_text = "<pre>" + html.escape(json.dumps(dict(settings), indent=2)) + "</pre>"
        write_report(staging / "report.html", f"arbor interp {name}: {Path(settings['model_dir']).name}",
                     sections + [("settings", settings_text)])
    return summary


def _problems(settings: Mapping[str, Any]) -> list[dict]:
    task = get_task(settings["task"])
    return list(task.problems(settings["n"], settings["seed"], settings["difficulty"]))


# ---- logit lens ---------------------------------------------------------------------------------


def lens_study(settings: Mapping[str, Any]) -> Study:
    """Logit lens of logit(first answer) − logit(second) at the answer position, by layer."""
    task, problems = get_task(settings["task"]), _problems(settings)
    first, second = answer_words(task)

    def study(hm: HookedModel, folder: Path):
        ids = answer_prompt_ids(hm.tokenizer, task, problems)
        with torch.no_grad():
            _, cache = hm.run_with_cache(ids)
        lens, labels = logit_lens(hm, cache)  # [n_layers + 1, batch, d_vocab]
        diff = (lens[..., answer_token(hm.tokenizer, first)] - lens[..., answer_token(hm.tokenizer, second)]).numpy()
        truth = np.array([task.solve(p) == first for p in problems])
        accuracy = ((diff > 0) == truth).mean(axis=1)
        figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
        for mask, name in ((truth, first), (~truth, second)):
            if mask.any():
                left.plot(labels, diff[:, mask].mean(1), marker="o", label=f"answer {name}")
        left.axhline(0, color="grey", lw=0.5)
        left.set(title=f"logit({first}) − logit({second}) through the final norm", ylabel="mean logit difference")
        left.legend()
        right.plot(labels, accuracy, marker="o")
        right.set(title="accuracy of the lens' decision", ylim=(0, 1.02))
        save_figure(figure, folder / "lens.png")
        rows = [dict(layer=l, accuracy=float(a), mean_diff_first=float(diff[i, truth].mean()) if truth.any() else None,
                     mean_diff_second=float(diff[i, ~truth].mean()) if (~truth).any() else None)
                for i, (l, a) in enumerate(zip(labels, accuracy))]
        return {"layers": rows}, [("logit lens", image(folder / "lens.png") + table(rows))]

    return study


# ---- direct logit attribution -------------------------------------------------------------------


def dla_study(settings: Mapping[str, Any]) -> Study:
    """Direct logit attribution to logit(correct) − logit(wrong), per head, MLP, embedding and bias."""
    task, problems = get_task(settings["task"]), _problems(settings)
    answer_words(task)

    def study(hm: HookedModel, folder: Path):
        ids = answer_prompt_ids(hm.tokenizer, task, problems)
        good, bad = answer_tokens(hm.tokenizer, task, problems)
        with torch.no_grad():
            logits, cache = hm.run_with_cache(ids)
        attributions, labels = direct_logit_attribution(hm, cache, good, bad)  # [n_components, batch]
        mean = attributions.mean(1).numpy()
        n_layers, n_heads = hm.cfg.n_layers, hm.cfg.n_heads
        heads = mean[: n_layers * n_heads].reshape(n_layers, n_heads)
        by_layer, layer_labels = attribution_by_layer(attributions, labels, n_layers)
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [2, 1]})
        left.bar(layer_labels, by_layer.mean(1).numpy())
        left.tick_params(axis="x", rotation=60)
        left.set(title="mean attribution to logit(correct) − logit(wrong)")
        _heatmap(right, heads, "head", "layer", "each head")
        save_figure(figure, folder / "dla.png")
        rows = [dict(component=l, mean=float(m), std=float(s)) for l, m, s in zip(labels, mean, attributions.std(1).numpy())]
        total = logit_diff(logits, good, bad)
        summary = {"mean_logit_diff": float(total.mean()), "accuracy": float((total > 0).float().mean()), "components": rows}
        text = f"<p>mean logit(correct) − logit(wrong): {summary['mean_logit_diff']:.3f}; model correct on {summary['accuracy']:.1%}.</p>"
        return summary, [("direct logit attribution", text + image(folder / "dla.png") + table(rows))]

    return study


def _heatmap(axis, values: np.ndarray, xlabel: str, ylabel: str, title: str, xticks: list[str] | None = None) -> None:
    bound = float(np.abs(values).max()) or 1.0
    shown = axis.imshow(values, cmap="RdBu", vmin=-bound, vmax=bound, aspect="auto")
    axis.set(xlabel=xlabel if xticks is None else "", ylabel=ylabel, title=title)
    axis.set_yticks(range(values.shape[0]))
    if xticks is not None:
        axis.set_xticks(range(len(xticks)), xticks, rotation=90, fontsize=7)
    else:
        axis.set_xticks(range(values.shape[1]))
    plt.colorbar(shown, ax=axis)


# ---- sweeps -------------------------------------------------------------------------------------


def sweep_study(settings: Mapping[str, Any]) -> Study:
    """One input of one problem swept over a range: contributions, derivatives, decision boundaries."""
    task = get_task(settings["task"])
    problem = settings["problem"] or _problems({**settings, "n": 1})[0]
    require_sweeps(task)
    task.sweep(problem, settings["field"], settings["values"])  # bad fields and values fail before the model loads

    def study(hm: HookedModel, folder: Path):
        result = sweep(hm, task, problem, settings["field"], settings["values"])
        _sweep_plots(result, folder, settings["top"])
        summary = {"problem": problem, "field": result.field, "accuracy": result.accuracy(),
                   "model_boundaries": result.model_boundaries(), "true_boundaries": result.true_boundaries(),
                   "labels": result.labels, "values": result.values.tolist(),
                   "attributions": result.attributions.tolist(), "logit_diff": result.logit_diff.tolist()}
        text = (f"<p>problem {html.escape(json.dumps(problem))}; the model's decision flips at "
                f"{summary['model_boundaries']}, the true answer at {summary['true_boundaries']}; "
                f"the sign of the logit difference is right on {summary['accuracy']:.1%} of the values.</p>")
        body = "".join(image(folder / f"{name}.png") for name in ("sweep_lines", "sweep_heatmap", "sweep_derivatives"))
        return summary, [(f"sweep of {result.field}", text + body)]

    return study


def _sweep_plots(result: SweepResult, folder: Path, top: int) -> None:
    strongest = np.argsort(-np.abs(result.attributions).max(1))[:top]
    x, first_answer = result.values, result.truth
    for name, values, title in (("sweep_lines", result.attributions, "contribution to logit(yes) − logit(no)"),
                                ("sweep_derivatives", result.derivatives, f"d contribution / d {result.field}")):
        figure, axis = plt.subplots(figsize=(9, 4))
        for i in strongest:
            axis.plot(x, values[i], label=result.labels[i])
        if name == "sweep_lines":
            axis.plot(x, result.logit_diff, color="black", lw=2, label="total")
            axis.fill_between(x, *axis.get_ylim(), where=first_answer, color="green", alpha=0.08, label="true answer yes")
            for boundary in result.model_boundaries():
                axis.axvline(boundary, color="black", ls="--", lw=1)
            for boundary in result.true_boundaries():
                axis.axvline(boundary, color="green", ls=":", lw=1.5)
        axis.axhline(0, color="grey", lw=0.5)
        axis.set(xlabel=result.field, title=title)
        axis.legend(fontsize=7, ncol=2)
        save_figure(figure, folder / f"{name}.png")
    figure, axis = plt.subplots(figsize=(9, max(3, 0.22 * len(result.labels))))
    _heatmap(axis, result.attributions, result.field, "component", f"contribution to logit(yes) − logit(no) by {result.field}",
             xticks=[f"{v:g}" for v in x])
    axis.set_yticklabels(result.labels, fontsize=7)
    save_figure(figure, folder / "sweep_heatmap.png")


# ---- patching -----------------------------------------------------------------------------------


def patch_study(settings: Mapping[str, Any]) -> Study:
    """Denoising and noising, exact and attribution patching, on minimal pairs."""
    task = get_task(settings["task"])
    require_pairs(task)

    def study(hm: HookedModel, folder: Path):
        pairs = minimal_pairs(hm, task, settings["n"], settings["seed"], settings["difficulty"], settings["field"])
        tokens = hm.tokenizer.convert_ids_to_tokens(pairs.clean_ids[0].tolist())
        summary, sections = {"pairs": pairs.problems, "tokens": tokens}, []
        for mode in MODES:
            exact, approx = activation_patching(hm, pairs, mode), attribution_patching(hm, pairs, mode)
            figure, axes = plt.subplots(2, 3, figsize=(15, 8))
            figure.subplots_adjust(hspace=0.8, wspace=0.25)  # room for token labels (a layout engine costs seconds)
            for column, grid in enumerate(exact):
                xticks = tokens if GRID_AXES[grid][1] == "pos" else None
                for row, (kind, values) in enumerate((("exact", exact[grid]), ("attribution", approx[grid]))):
                    _heatmap(axes[row, column], values.numpy(), GRID_AXES[grid][1], "layer", f"{grid}, {kind}", xticks)
            save_figure(figure, folder / f"patch_{mode}.png")
            correlations = {grid: correlation(exact[grid], approx[grid]) for grid in exact}
            summary[mode] = {"exact": {g: v.tolist() for g, v in exact.items()},
                             "attribution": {g: v.tolist() for g, v in approx.items()}, "correlation": correlations}
            rows = [dict(grid=g, correlation=c) for g, c in correlations.items()]
            text = "<p>0 = corrupted run, 1 = clean run. Correlation of attribution patching with exact patching:</p>"
            sections.append((f"{mode} ({len(pairs.problems)} minimal pairs)", text + table(rows) + image(folder / f"patch_{mode}.png")))
        return summary, sections

    return study


# ---- probes -------------------------------------------------------------------------------------


def probe_study(settings: Mapping[str, Any]) -> Study:
    """Per-layer linear probes for a task label, with a control task and selectivity."""
    task = get_task(settings["task"])
    if settings["label"] not in LABELS:
        raise ArborError(f"--label must be one of {', '.join(LABELS)}, got '{settings['label']}'.")

    def study(hm: HookedModel, folder: Path):
        sites = make_sites(hm, task, settings["label"], settings["n"], settings["seed"], settings["difficulty"])
        if not sites:
            raise ArborError("these problems give no probe sites.")
        features = collect(hm, sites, settings["hook"], show_progress=True)
        rows = probe_layers(features, sites, settings["seed"])
        figure, axis = plt.subplots(figsize=(7, 3.5))
        layers = [r["layer"] for r in rows]
        for key in ("accuracy", "control_accuracy", "majority"):
            axis.plot(layers, [r[key] for r in rows], marker="o", label=key.replace("_", " "))
        axis.set(xlabel="layer", ylabel="test accuracy (split by problem)", ylim=(0, 1.02),
                 title=f"probe for '{settings['label']}' at {settings['hook']}")
        axis.legend()
        save_figure(figure, folder / "probe.png")
        summary = {"n_sites": len(sites), "layers": rows}
        return summary, [(f"probe: {settings['label']} ({len(sites)} sites)", image(folder / "probe.png") + table(rows))]

    return study
