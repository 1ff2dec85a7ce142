"""`arbor sample` and `arbor eval` on a tiny random model saved with the task tokenizer."""

import json

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from arborlab.score import score_lines
from arborlab.tasks import get_task
from arborlab.tokenizer import build_tokenizer
from tests.test_cli import arbor, assert_one_sentence_error


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    task = get_task("countdown")
    texts = [task.prompt(p) + "\n" + task.trace(p, "search") for p in task.problems(50, difficulty={"n_numbers": 3})]
    tokenizer = build_tokenizer(texts)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    folder = tmp_path_factory.mktemp("model")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_sample_writes_one_line_per_sample(model_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("numbers 3 5 7 target 22\nnumbers 10 2 4 target 40\n")
    code, _, err = arbor("sample", str(model_dir), "--prompts", str(prompts), "--n", "3", "--temperature", "1",
                         "--max-new-tokens", "6", "--out", str(tmp_path / "s.jsonl"))
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["prompt"] for r in rows} == set(prompts.read_text().split("\n")[:2])
    for row in rows:
        assert len(row["tokens"]) == len(row["logprobs"]) <= 6
        assert all(lp <= 0 for lp in row["logprobs"])


def test_eval_writes_figures_that_rescore(model_dir, tmp_path):
    out = tmp_path / "eval"
    code, stdout, err = arbor("eval", str(model_dir), "--task", "countdown", "--problems", "5", "--samples", "4",
                              "--k", "1,2,4", "-d", "n_numbers=3", "--max-new-tokens", "6", "--out", str(out))
    assert code == 0, err
    report = json.loads((out / "eval.json").read_text())
    assert report["n"] == 5 and {"pass@1", "pass@2", "pass@4", "maj@4"} <= set(report)
    assert report["pass@1"] <= report["pass@2"] <= report["pass@4"]
    with open(out / "predictions.jsonl") as stream:
        verdicts = list(score_lines(get_task("countdown"), stream))
    assert len(verdicts) == 20
    assert report["accuracy"] == pytest.approx(sum(v["correct"] for v in verdicts) / 20)
    assert (out / "pass_at_k.png").stat().st_size > 1000


def test_eval_against_a_baseline_grades_both_on_the_same_problems(model_dir, tmp_path):
    out = tmp_path / "eval"
    code, stdout, err = arbor("eval", str(model_dir), "--task", "countdown", "--problems", "4", "--samples", "3", "--k", "1,3",
                              "-d", "n_numbers=3", "--max-new-tokens", "12", "--temperature", "2", "--out", str(out),
                              "--baseline", str(model_dir))
    assert code == 0, err
    report = json.loads((out / "eval.json").read_text())
    baseline = report["baseline"]
    rows = {name: [json.loads(line) for line in (out / name).read_text().splitlines()]
            for name in ("predictions.jsonl", "baseline_predictions.jsonl")}
    assert [r["problem"] for r in rows["predictions.jsonl"]] == [r["problem"] for r in rows["baseline_predictions.jsonl"]]
    # the same model with the same seed: the same samples, so the same figures
    assert rows["predictions.jsonl"] == rows["baseline_predictions.jsonl"]
    assert {k: report[k] for k in ("accuracy", "pass@1", "pass@3")} == {k: baseline[k] for k in ("accuracy", "pass@1", "pass@3")}
    assert baseline["model_dir"] == str(model_dir) and "baseline: countdown" in stdout


def test_eval_bad_input_is_one_sentence(model_dir, tmp_path):
    assert_one_sentence_error(*arbor("eval", str(model_dir), "--task", "countdown", "--samples", "2", "--k", "8"), "pass@8 needs")
    assert_one_sentence_error(*arbor("eval", str(tmp_path), "--task", "countdown"))
    assert_one_sentence_error(*arbor("eval", str(model_dir), "--task", "countdown", "--k", "x"), "--k takes")
    assert_one_sentence_error(*arbor("eval", str(model_dir), "--task", "countdown", "--baseline", str(tmp_path)))
