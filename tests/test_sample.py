"""The sampler against transformers' own `generate` and forward pass, on tiny random models."""

from collections import Counter

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

import arborlab.sample as sampling
from arborlab.errors import ArborError
from arborlab.sample import PrefixCache, _inverse_cdf, sample

VOCAB = 96
NEW = 24
SPECIAL = dict(bos_token_id=1, eos_token_id=2, pad_token_id=0)
SHAPE = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
BUILDERS = {
    "llama": lambda: LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, **SHAPE, **SPECIAL)),
    "qwen2": lambda: Qwen2ForCausalLM(Qwen2Config(vocab_size=VOCAB, **SHAPE, **SPECIAL)),
    "gpt2": lambda: GPT2LMHeadModel(
        GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=128, **SPECIAL)
    ),
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Run single-threaded: tiny models gain nothing from threads, which on a busy machine cost
    100x in spin-waiting, and shrinking batches is bit-exact on one thread (see arborlab.sample)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=list(BUILDERS))
def model(request):
    torch.manual_seed(0)
    return BUILDERS[request.param]().eval()


@pytest.fixture(scope="module")
def prompts():
    """Ten prompts of 1 to 14 tokens, so the batch is left-padded."""
    generator = torch.Generator().manual_seed(0)
    lengths = [1, 14, 3, 9, 5, 12, 2, 7, 14, 6]
    return [torch.randint(3, VOCAB, (n,), generator=generator).tolist() for n in lengths]


def hf_greedy(model, prompts, max_new_tokens, eos=()):
    """transformers' greedy `generate` on the same left-padded batch, each row cut after its first eos id."""
    width = max(len(p) for p in prompts)
    input_ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    with torch.inference_mode():
        out = model.generate(
            input_ids, attention_mask=attention_mask, max_new_tokens=max_new_tokens, do_sample=False,
            eos_token_id=list(eos) or None, pad_token_id=0,
        )
    rows = out[:, width:].tolist()
    return [row[: first_stop(row, [[e] for e in eos]) or len(row)] for row in rows]


def tokens_of(completions):
    return [c.tokens for c in completions]


def planted_eos(model, prompts) -> list[int]:
    """Eos ids that end at least half of the rows but not all: tokens their greedy continuations hold."""
    rows = [set(row) for row in hf_greedy(model, prompts, NEW)]
    chosen = set()
    for token, _ in Counter(t for row in rows for t in row).most_common():
        covered = sum(bool(row & (chosen | {token})) for row in rows)
        if covered < len(rows):
            chosen.add(token)
            if covered >= len(rows) // 2:
                break
    return sorted(chosen)


def first_stop(row, stop_sequences):
    """Where a row ends under the stop sequences: the index just past the first match, or None."""
    for end in range(1, len(row) + 1):
        if any(row[max(0, end - len(s)): end] == list(s) for s in stop_sequences):
            return end
    return None


def record_shrinking(monkeypatch) -> list[int]:
    """A list that receives the new batch size each time a decoder drops finished rows."""
    sizes = []
    for decoder in (sampling._LlamaDecoder, sampling._HFDecoder):
        def keep(self, rows, original=decoder.keep):
            sizes.append(len(rows))
            original(self, rows)
        monkeypatch.setattr(decoder, "keep", keep)
    return sizes


def test_greedy_equals_generate_on_the_same_batch(model, prompts):
    completions = sample(model, prompts, NEW, temperature=0, stop_ids=())
    assert tokens_of(completions) == hf_greedy(model, prompts, NEW)
    assert {c.finish_reason for c in completions} == {"length"}


def test_greedy_equals_generate_without_padding(model):
    generator = torch.Generator().manual_seed(1)
    same_length = [torch.randint(3, VOCAB, (6,), generator=generator).tolist() for _ in range(5)]
    for batch in (same_length, same_length[:1]):
        assert tokens_of(sample(model, batch, NEW, temperature=0, stop_ids=())) == hf_greedy(model, batch, NEW)


def test_greedy_equals_generate_when_rows_stop_on_eos(model, prompts, monkeypatch):
    eos = planted_eos(model, prompts)
    shrinks = record_shrinking(monkeypatch)

    completions = sample(model, prompts, NEW, temperature=0, stop_ids=eos)

    assert tokens_of(completions) == hf_greedy(model, prompts, NEW, eos=eos)
    stopped = [c.finish_reason == "stop" for c in completions]
    assert sum(stopped) >= 3 and not all(stopped)  # a test of stopping, and of dropping finished rows
    assert shrinks and min(shrinks) >= 4
    for completion, hit in zip(completions, stopped):
        assert (completion.tokens[-1] in eos) == hit
        assert sum(token in eos for token in completion.tokens) == hit


def test_the_models_eos_is_the_default_stop(model, prompts, monkeypatch):
    eos = planted_eos(model, prompts)
    monkeypatch.setattr(model.generation_config, "eos_token_id", eos)  # a list of ids, as configs allow
    assert tokens_of(sample(model, prompts, NEW, temperature=0)) == hf_greedy(model, prompts, NEW, eos=eos)


def test_stop_sequences_end_completions_after_their_first_match(model, prompts):
    free = tokens_of(sample(model, prompts, NEW, temperature=0, stop_ids=()))
    stop_sequences = [free[1][4:6], free[3][2:5], [free[5][7]]]

    completions = sample(model, prompts, NEW, temperature=0, stop_ids=(), stop_sequences=stop_sequences)

    for row, completion in zip(free, completions):
        end = first_stop(row, stop_sequences)
        assert completion.tokens == row[:end]
        assert completion.finish_reason == ("length" if end is None else "stop")
    assert sum(c.finish_reason == "stop" for c in completions) >= 3


def test_the_hf_back_end_applies_the_same_stopping_rules(model, prompts):
    eos = planted_eos(model, prompts)
    free = tokens_of(sample(model, prompts, NEW, temperature=0, stop_ids=()))
    rules = dict(temperature=0, stop_ids=eos[:1], stop_sequences=[free[2][3:5]])
    ours = sample(model, prompts, NEW, **rules)
    theirs = sample(model, prompts, NEW, backend="hf", **rules)
    assert tokens_of(ours) == tokens_of(theirs)
    assert [c.finish_reason for c in ours] == [c.finish_reason for c in theirs]
    for a, b in zip(ours, theirs):
        assert a.logprobs == pytest.approx(b.logprobs, abs=1e-5)


@pytest.mark.parametrize("temperature", [0, 0.7])
def test_logprobs_are_the_models_log_softmax_at_the_temperature(model, prompts, temperature):
    completions = sample(model, prompts, 12, temperature=temperature, seed=1, stop_ids=())
    for prompt, completion in zip(prompts, completions):
        sequence = torch.tensor([prompt + completion.tokens])
        with torch.inference_mode():
            logits = model(sequence).logits[0, len(prompt) - 1: -1]
        scaled = logits / temperature if temperature else logits
        expected = scaled.log_softmax(-1).gather(-1, torch.tensor(completion.tokens)[:, None])[:, 0]
        assert torch.allclose(torch.tensor(completion.logprobs), expected, atol=1e-4)


def test_seeded_sampling_is_reproducible(model, prompts):
    first = sample(model, prompts, 16, temperature=1.0, seed=7, stop_ids=())
    again = sample(model, prompts, 16, temperature=1.0, seed=7, stop_ids=())
    other = sample(model, prompts, 16, temperature=1.0, seed=8, stop_ids=())
    assert tokens_of(first) == tokens_of(again)
    assert [c.logprobs for c in first] == [c.logprobs for c in again]
    assert tokens_of(first) != tokens_of(other)


def test_a_tiny_top_p_is_greedy(model, prompts):
    greedy = sample(model, prompts, 16, temperature=0, stop_ids=())
    nucleus = sample(model, prompts, 16, temperature=1.0, top_p=1e-6, seed=0, stop_ids=())
    assert tokens_of(nucleus) == tokens_of(greedy)


def test_sampling_keeps_dropout_off_and_restores_training_mode(model, prompts):
    model.train()
    try:
        completions = sample(model, prompts, NEW, temperature=0, stop_ids=())
        assert model.training
    finally:
        model.eval()
    assert tokens_of(completions) == hf_greedy(model, prompts, NEW)


def test_draws_follow_the_distribution_and_the_nucleus():
    """4,000 one-token samples of one prompt match softmax(logits / T), restricted to the top-p nucleus."""
    torch.manual_seed(0)
    peaked = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, initializer_range=0.3, **SHAPE, **SPECIAL)).eval()
    prompt, draws, temperature = [5, 17, 33], 4000, 1.5
    with torch.inference_mode():
        probs = (peaked(torch.tensor([prompt])).logits[0, -1] / temperature).softmax(-1)

    for top_p in (1.0, 0.6):
        completions = sample(peaked, [prompt] * draws, 1, temperature=temperature, top_p=top_p, seed=0, stop_ids=())
        counts = torch.bincount(torch.tensor([c.tokens[0] for c in completions]), minlength=VOCAB).float()
        ranked, order = probs.sort(descending=True)
        nucleus = order[ranked.cumsum(0) - ranked < top_p]
        expected = torch.zeros(VOCAB)
        expected[nucleus] = probs[nucleus] / probs[nucleus].sum()
        spread = (expected * (1 - expected) / draws).sqrt()
        assert ((counts / draws - expected).abs() <= 5 * spread + 1e-9).all()
        assert len(nucleus) > 1 and counts[nucleus].sum() == draws


def test_inverse_cdf_draws_in_proportion_and_never_a_zero_weight():
    weights = torch.tensor([[0.0, 1.0, 0.0, 0.0, 3.0, 0.0], [2.0, 0.0, 0.0, 0.0, 0.0, 1e-30]]).repeat(20_000, 1)
    draws = _inverse_cdf(weights, torch.Generator().manual_seed(0)).view(20_000, 2)
    first, second = (torch.bincount(draws[:, row], minlength=6).float() / 20_000 for row in (0, 1))
    assert first[[0, 2, 3, 5]].sum() == 0 and abs(first[4] - 0.75) < 5 * (0.75 * 0.25 / 20_000) ** 0.5
    assert second[0] == 1  # 1e-30 of the mass: no uniform number of 20,000 lands there


@pytest.mark.parametrize(
    "arguments, sentence",
    [
        (dict(backend="sglang"), "unknown sampling back end 'sglang'; choose one of arbor, hf, vllm."),
        (dict(max_new_tokens=0), "max_new_tokens must be at least 1, got 0."),
        (dict(temperature=-1), "temperature must be 0 (greedy) or positive, got -1."),
        (dict(top_p=0), "top_p must be in (0, 1], got 0."),
        (dict(stop_sequences=[[]]), "a stop sequence must hold at least one token id."),
        (dict(prompts=[[5], []]), "prompt 1 is empty; every prompt needs at least one token."),
        (dict(prompts=[[5, VOCAB]]), "prompt 0 holds a token id outside the model's vocabulary of 96."),
        (
            dict(prompts=[[5] * 100], max_new_tokens=40000),
            "a prompt of 100 tokens plus max_new_tokens=40000 exceeds the model's context of",
        ),
    ],
)
def test_bad_arguments_get_one_clear_sentence(model, arguments, sentence):
    call = dict(prompts=[[5, 6]], max_new_tokens=4) | arguments
    with pytest.raises(ArborError) as error:
        sample(model, call.pop("prompts"), call.pop("max_new_tokens"), **call)
    assert str(error.value).startswith(sentence) and str(error.value).endswith(".")


def test_a_prefix_cache_continues_completions_without_re_reading_them(model, prompts):
    """A call whose prompts are all completions of an earlier call reads only their last tokens
    (the fast decoder; others prefill as before), and continues them as one uninterrupted run would."""
    fast = model.config.model_type in ("llama", "qwen2")
    cache = PrefixCache()
    first = sample(model, prompts, 10, temperature=0, stop_ids=(), prefix_cache=cache)
    continued = [p + c.tokens for p, c in zip(prompts, first)]
    then = sample(model, continued, NEW - 10, temperature=0, stop_ids=(), prefix_cache=cache)
    whole = [p + c.tokens for p, c in zip(continued, then)]
    straight = sample(model, prompts, NEW, temperature=0, stop_ids=())
    assert cache.resumed_calls == int(fast)
    assert [a.tokens + b.tokens for a, b in zip(first, then)] == tokens_of(straight)
    # rows that ended at different lengths (eos), continued: the same as a fresh prefill of them
    eos = planted_eos(model, prompts)
    ragged = sample(model, prompts, NEW, temperature=0, stop_ids=eos, prefix_cache=cache)
    assert len({len(c.tokens) for c in ragged}) > 1
    continued = [p + c.tokens for p, c in zip(prompts, ragged)]
    assert tokens_of(sample(model, continued, 8, temperature=0, stop_ids=(), prefix_cache=cache)) == tokens_of(
        sample(model, continued, 8, temperature=0, stop_ids=()))
    assert cache.resumed_calls == 2 * int(fast)
    # rows of two earlier calls, interleaved: each continues as a fresh prefill of it would
    mixed = [continued[1], whole[0], continued[0], whole[2], continued[2]]
    assert tokens_of(sample(model, mixed, 8, temperature=0, stop_ids=(), prefix_cache=cache)) == tokens_of(
        sample(model, mixed, 8, temperature=0, stop_ids=()))
    assert cache.resumed_calls == 3 * int(fast)
    # repeated prompts (beam search continues each kept beam M times), from two earlier calls: each
    # distinct prompt is fed once and copied, and every copy continues as a fresh prefill of it would
    repeated = [continued[1], whole[0], continued[0], continued[1], whole[0], continued[1]]
    assert tokens_of(sample(model, repeated, 8, temperature=0, stop_ids=(), prefix_cache=cache)) == tokens_of(
        sample(model, repeated, 8, temperature=0, stop_ids=()))
    assert cache.resumed_calls == 4 * int(fast)
    # one prompt it has never seen: the whole call prefills
    sample(model, [*continued, [5, 6, 7]], 4, temperature=0, stop_ids=(), prefix_cache=cache)
    assert cache.resumed_calls == 4 * int(fast)
    # a cache that may hold nothing, or one call only, forgets
    assert PrefixCache(calls=0).get(continued[0]) is None
    small = PrefixCache(calls=1)
    done = prompts[0] + sample(model, prompts, 3, temperature=0, stop_ids=(), prefix_cache=small)[0].tokens
    assert (small.get(done) is not None) == fast
    sample(model, [[7, 8]], 3, temperature=0, stop_ids=(), prefix_cache=small)
    assert small.get(done) is None


def test_a_prefix_of_a_cached_completion_continues_like_an_uninterrupted_run(model, prompts):
    """`PrefixCache.alias`: a call continuing from the first tokens of cached completions reads only
    each prompt's last token and writes what one uninterrupted greedy run writes after them."""
    fast = model.config.model_type in ("llama", "qwen2")
    cache = PrefixCache()
    first = sample(model, prompts, 12, temperature=0, stop_ids=(), prefix_cache=cache)
    whole = [p + c.tokens for p, c in zip(prompts, first)]
    prefixes = [ids[: len(p) + 3 + row % 4] for row, (p, ids) in enumerate(zip(prompts, whole))]  # ragged cuts
    assert all(cache.alias(prefix, ids) == fast for prefix, ids in zip(prefixes, whole))
    then = sample(model, prefixes, 8, temperature=0, stop_ids=(), prefix_cache=cache)
    assert cache.resumed_calls == int(fast)  # the second call resumed
    straight = sample(model, prompts, 12 + 8, temperature=0, stop_ids=())
    for prompt, prefix, continued, reference in zip(prompts, prefixes, then, straight):
        done = len(prefix) - len(prompt)
        assert continued.tokens == reference.tokens[done: done + 8]
    with pytest.raises(ValueError):
        cache.alias([*whole[0][:2], -1], whole[0])  # not a prefix
