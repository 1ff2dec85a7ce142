"""Plots and the HTML report of an SFT run, from its metrics.jsonl and config."""

from __future__ import annotations

import dataclasses

from arborlab.report import image, plt, save_figure, table, write_report
from arborlab.runs import RunFolder


def write_sft_report(run: RunFolder, config) -> None:
    """loss.png, accuracy.png and report.html in the run folder."""
    metrics = run.read_metrics()
    losses = [m for m in metrics if "loss" in m]
    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([m["step"] for m in losses], [m["loss"] for m in losses])
    axis.set(xlabel="step", ylabel="train loss (per completion token)", yscale="log", title="SFT loss")
    loss_png = save_figure(figure, run.path / "loss.png")

    figure, axis = plt.subplots(figsize=(6, 3.5))
    for split in ("val", "test"):
        points = [m for m in metrics if f"{split}_accuracy" in m]
        axis.plot([m["step"] for m in points], [m[f"{split}_accuracy"] for m in points], "o-", label=f"{split} (greedy)")
    axis.set(xlabel="step", ylabel="accuracy", ylim=(0, 1.02), title="held-out accuracy (task verifier)")
    axis.legend()
    accuracy_png = save_figure(figure, run.path / "accuracy.png")

    final = next((m for m in reversed(metrics) if "test_accuracy" in m), {})
    sections = [
        ("result", table([{"test accuracy": final.get("test_accuracy"), "test problems": final.get("test_n")}])),
        ("loss", image(loss_png)),
        ("accuracy", image(accuracy_png)),
        ("configuration", table([{"setting": k, "value": v} for k, v in dataclasses.asdict(config).items()])),
    ]
    write_report(run.path / "report.html", f"SFT run {run.path.name}", sections)
