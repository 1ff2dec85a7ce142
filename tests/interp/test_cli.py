"""`arbor interp …` end to end on the toy model: run folders with plots, reports and checked numbers."""

import json

import pytest
import torch
from transformers import AutoModelForCausalLM
from typer.testing import CliRunner

from arborlab.cli import app
from arborlab.errors import ArborError
from arborlab.interp.cli import parse_values
from arborlab.interp.prompts import answer_prompt_ids, answer_tokens, logit_diff
from arborlab.tasks import get_task

PROBLEM = '{"kind": "unit_price", "price_a": 12, "quantity_a": 4, "price_b": 15, "quantity_b": 6}'


def invoke(*args):
    result = CliRunner().invoke(app, ["interp", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.mark.parametrize("command, args, pngs", [
    ("lens", ["--n", "8"], ["lens"]),
    ("dla", ["--n", "8"], ["dla"]),
    ("sweep", ["--field", "price_a", "--values", "4:16:2", "--problem", PROBLEM], ["sweep_lines", "sweep_heatmap", "sweep_derivatives"]),
    ("patch", ["--n", "3", "--field", "price_b"], ["patch_denoising", "patch_noising"]),
    ("probe", ["--n", "12"], ["probe"]),
])
def test_each_command_writes_a_run_folder(toy_folder, tmp_path, command, args, pngs):
    out = tmp_path / command
    invoke(command, toy_folder, "-d", "max_value=30", "--out", out, *args)
    for name in pngs:
        assert (out / f"{name}.png").stat().st_size > 1000
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64") == len(pngs)
    assert "study = " in (out / "config.toml").read_text()
    summary = json.loads((out / "summary.json").read_text())
    if command == "dla":  # the mean logit difference, recomputed with HF on the same problems
        task = get_task("compare")
        problems = list(task.problems(8, 0, {"max_value": 30}))
        from arborlab.models import load_model
        model, tokenizer = load_model(toy_folder)
        good, bad = answer_tokens(tokenizer, task, problems)
        with torch.no_grad():
            logits = AutoModelForCausalLM.from_pretrained(toy_folder)(answer_prompt_ids(tokenizer, task, problems)).logits
        assert summary["mean_logit_diff"] == pytest.approx(logit_diff(logits, good, bad).mean().item(), abs=1e-4)
        assert sum(c["mean"] for c in summary["components"]) == pytest.approx(summary["mean_logit_diff"], abs=1e-4)
    if command == "sweep":
        assert summary["true_boundaries"] == [10.0] and summary["values"] == list(range(4, 17, 2))
    if command == "patch":
        assert set(summary["denoising"]["correlation"]) == {"resid_pre", "head_out", "mlp_out"}
    if command == "probe":
        assert len(summary["layers"]) == 2 and all(0 <= row["accuracy"] <= 1 for row in summary["layers"])


def test_values_parse_and_bad_input_is_one_sentence(toy_folder, tmp_path):
    assert parse_values("3:9:3") == [3, 6, 9] and parse_values("1,5,2") == [1, 5, 2]
    with pytest.raises(ArborError, match="--values takes"):
        parse_values("3-9")
    # in-process (a subprocess costs seconds of imports); `arbor`'s main prints an ArborError as one red sentence
    result = CliRunner().invoke(app, ["interp", "sweep", str(toy_folder), "--field", "price_z", "--values", "1:5",
                                      "--out", str(tmp_path / "s")])
    assert isinstance(result.exception, ArborError) and "cannot sweep 'price_z'" in str(result.exception)
    assert not (tmp_path / "s").exists()
    result = CliRunner().invoke(app, ["interp", "probe", str(toy_folder), "--label", "height", "--out", str(tmp_path / "p")])
    assert isinstance(result.exception, ArborError) and "--label must be one of answer, solvable, depth, value" in str(result.exception)
    result = CliRunner().invoke(app, ["interp", "probe", str(toy_folder), "--label", "depth", "--out", str(tmp_path / "p")])
    assert isinstance(result.exception, ArborError) and "gives no 'depth' labels" in str(result.exception)
    assert not (tmp_path / "p").exists()
    result = CliRunner().invoke(app, ["interp", "sweep", str(toy_folder), "--field", "price_a", "--values", "1:5",
                                      "--top", "0", "--out", str(tmp_path / "s")])
    assert isinstance(result.exception, ArborError) and "--top must be at least 1, got 0" in str(result.exception)
    assert not (tmp_path / "s").exists()
