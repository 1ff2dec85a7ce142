"""A loss weight on equation results: which tokens get it, and the loss it gives."""

import pytest
import torch
from transformers import LlamaForCausalLM

from arborlab.errors import ArborError
from arborlab.models import make_config
from arborlab.tasks import get_task
from arborlab.tokenizer import build_tokenizer
from arborlab.train.batches import collate, encode_example
from arborlab.train.sft import SFTConfig, _weigh_results, completion_loss, train_sft


def _countdown(n=20):
    task = get_task("countdown")
    problems = list(task.problems(n, seed=2, difficulty={"n_numbers": 3}))
    traces = [task.trace(p, "search") for p in problems]
    tokenizer = build_tokenizer(task.prompt(p) + "\n" + t for p, t in zip(problems, traces))
    return task, problems, traces, tokenizer


def test_the_weight_falls_on_every_token_of_each_result_and_nowhere_else():
    task, problems, traces, tokenizer = _countdown()
    examples = [encode_example(tokenizer, task.prompt(p), t) for p, t in zip(problems, traces)]
    weighted = _weigh_results(examples, tokenizer, 2.5)
    for example, trace in zip(weighted, traces):
        # reference from the text: each step line's result, "a op b=RESULT, left ..."
        results = [line.split("=")[1].split(",")[0] for line in trace.splitlines() if "=" in line]
        tokens = [i for i, w in zip(example.ids, example.weights) if w == 2.5]
        assert tokenizer.decode(tokens) == "".join(results)
        assert set(example.weights) <= {1.0, 2.5}
    assert any(int(r) >= 1000 for t in traces for r in [x.split("=")[1].split(",")[0] for x in t.splitlines() if "=" in x])


def test_the_weighted_loss_is_the_weighted_token_sum_and_the_log_keeps_the_plain_one():
    task, problems, traces, tokenizer = _countdown(4)
    torch.manual_seed(0)
    model = LlamaForCausalLM(make_config("1m", len(tokenizer), num_hidden_layers=1))
    examples = _weigh_results([encode_example(tokenizer, task.prompt(p), t) for p, t in zip(problems, traces)], tokenizer, 3.0)
    batch = collate(examples, tokenizer.pad_token_id)
    loss, logged, n_targets = completion_loss(model, batch, bf16=False, world=1)
    logits = model(input_ids=batch["input_ids"]).logits[:, :-1]
    labels, weights = batch["labels"][:, 1:], batch["loss_weights"][:, 1:]
    per_token = torch.nn.functional.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
    assert n_targets == int((labels != -100).sum())
    assert torch.allclose(loss, (per_token * weights).sum() / n_targets, rtol=1e-5)
    assert logged == pytest.approx(float(per_token.detach().sum()), rel=1e-5)
    plain, plain_logged, _ = completion_loss(model, {k: v for k, v in batch.items() if k != "loss_weights"}, False, 1)
    assert plain_logged == pytest.approx(logged, rel=1e-5) and float(loss.detach()) > float(plain.detach())


def test_a_non_positive_result_weight_is_refused_before_any_work(tmp_path):
    with pytest.raises(ArborError, match="result_weight must be above 0"):
        train_sft(SFTConfig(task="countdown", difficulty={"n_numbers": 3}, result_weight=0.0), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()
