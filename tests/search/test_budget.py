"""Budget accounting: Kaplan FLOPs against a per-token sum, and every sampler row charged to its problem."""

import time

import pytest
import torch
from transformers import LlamaForCausalLM

from arborlab.models import make_config
from arborlab.search import Budget, Policy
from arborlab.search.budget import FlopCounter


def per_token_flops(model, positions: range) -> float:
    """2 N + 2 n_layers d_model t for every position t (1-based context length), summed one by one."""
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    n = sum(p.numel() for p in model.parameters()) - (0 if tied else embedding)
    return sum(2 * n + 2 * config.num_hidden_layers * config.hidden_size * (t + 1) for t in positions)


@pytest.mark.parametrize("tied", [True, False])
def test_flop_counter_matches_a_per_token_sum(tied):
    torch.manual_seed(0)
    model = LlamaForCausalLM(make_config("1m", 300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                         num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=tied))
    counter = FlopCounter(model)
    assert counter.forward(5, 17) == pytest.approx(per_token_flops(model, range(5, 17)))
    assert counter.call(10, 4) == pytest.approx(per_token_flops(model, range(0, 13)))  # the last new token is never read
    assert counter.call(10, 4, cached=9) == pytest.approx(per_token_flops(model, range(9, 13)))  # a prefix in a KV cache


def test_every_row_of_a_batched_call_is_charged_to_its_problem(toy):
    model, tokenizer, task, problems = toy
    policy = Policy(model, tokenizer, max_new_tokens=200)  # room to end in one call
    roots = policy.roots(task, problems[:3])
    budgets = [Budget() for _ in roots]
    starts = [root for root in roots for _ in range(4)]
    began = time.perf_counter()
    steps = policy.step(starts, budgets, 1.0, seed=0)
    finished = policy.complete(steps, budgets, 1.0, seed=1)
    elapsed = time.perf_counter() - began
    assert policy.prefix_cache.resumed_calls == 1  # the second call continued the first's rows
    for owner, budget in enumerate(budgets):
        mine = [(s, f) for start, s, f in zip(starts, steps, finished) if start.owner == owner]
        generated = sum(len(f.ids) - len(start.ids) for start, (_, f) in zip(starts, mine))
        # each call reads its new tokens but the last; the first reads the whole prompt, the second
        # continues the first's rows from the policy's prefix cache, so it reads each prefix's last token only
        flops = sum(per_token_flops(model, range(len(s.ids) - 1)) for s, _ in mine)
        flops += sum(per_token_flops(model, range(len(s.ids) - 1, len(f.ids) - 1)) for s, f in mine if not s.done)
        assert budget.tokens == generated
        assert budget.flops == pytest.approx(flops)
    assert all(s.done or policy.text(s).endswith("\n") for s in steps)
    assert 0 < sum(b.seconds for b in budgets) <= elapsed
