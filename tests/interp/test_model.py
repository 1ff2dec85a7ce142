"""HookedModel against Hugging Face's own outputs (eager attention) on Llama, Qwen2, GPT-2 and a toy model."""

import resource
import sys

import pytest
import torch
from transformers import AutoModelForCausalLM

from arborlab.errors import ArborError
from arborlab.interp.model import HookedModel, keep_freed_memory

IDS = torch.tensor([[1, 40, 500, 17, 300, 9, 21], [1, 2, 3, 999, 4, 5, 6]])


def reference(folder):
    return AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()


def output_projections(model):
    """Each layer's attention output projection (its input is z, all heads side by side)."""
    if hasattr(model, "transformer"):
        return [block.attn.c_proj for block in model.transformer.h]
    return [layer.self_attn.o_proj for layer in model.model.layers]


@pytest.fixture(params=["random", "toy"])
def folder(request, random_folder, toy_folder):
    return random_folder if request.param == "random" else toy_folder


def test_cache_equals_hf_hidden_states_and_attentions(folder):
    hm = HookedModel.from_pretrained(folder)
    logits, cache = hm.run_with_cache(IDS)
    with torch.no_grad():
        hf = reference(folder)(IDS, output_hidden_states=True, output_attentions=True)
    n_layers, n_heads, d_model = hm.cfg.n_layers, hm.cfg.n_heads, hm.cfg.d_model
    torch.testing.assert_close(logits, hf.logits, atol=1e-5, rtol=0)
    for layer in range(n_layers):
        resid = cache[f"blocks.{layer}.hook_resid_pre"]
        pattern = cache[f"blocks.{layer}.attn.hook_pattern"]
        assert resid.shape == (2, 7, d_model) and pattern.shape == (2, n_heads, 7, 7)
        torch.testing.assert_close(resid, hf.hidden_states[layer], atol=1e-5, rtol=0)
        torch.testing.assert_close(pattern, hf.attentions[layer], atol=1e-6, rtol=0)
    # HF's last hidden state is after the final norm
    torch.testing.assert_close(cache["ln_final.hook_out"], hf.hidden_states[n_layers], atol=1e-5, rtol=0)


@pytest.mark.filterwarnings("ignore:run_with_hooks. skipped")  # hook points switched off (hook_result …) never fire
def test_a_hook_that_changes_nothing_leaves_logits_bit_identical(folder):
    hm = HookedModel.from_pretrained(folder)
    plain = hm(IDS)
    hooked = hm.run_with_hooks(IDS, fwd_hooks=[(lambda name: True, lambda tensor, hook: tensor)])
    assert torch.equal(plain, hooked)


def test_a_hook_edit_matches_the_same_edit_in_hf(random_folder):
    hm = HookedModel.from_pretrained(random_folder)
    hooked = hm.run_with_hooks(IDS, fwd_hooks=[("blocks.1.hook_resid_pre", lambda tensor, hook: tensor * 0.5)])
    model = reference(random_folder)
    blocks = model.transformer.h if hasattr(model, "transformer") else model.model.layers

    def halve(module, args, kwargs):  # the block's input arrives positionally or as a keyword, by architecture
        if args:
            return (args[0] * 0.5, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": kwargs["hidden_states"] * 0.5}

    handle = blocks[1].register_forward_pre_hook(halve, with_kwargs=True)
    with torch.no_grad():
        expected = model(IDS).logits
    handle.remove()
    torch.testing.assert_close(hooked, expected, atol=1e-5, rtol=0)
    assert (hooked - hm(IDS)).abs().max() > 1e-3


def test_decomposition_sums_to_the_final_residual_and_heads_match_hf(folder):
    hm = HookedModel.from_pretrained(folder)
    _, cache = hm.run_with_cache(IDS)
    components, labels = hm.decompose(cache)
    n_layers, n_heads, d_head = hm.cfg.n_layers, hm.cfg.n_heads, hm.cfg.d_head
    assert components.shape == (len(labels), 2, 7, hm.cfg.d_model)
    assert labels[: n_layers * n_heads] == [f"L{l}H{h}" for l in range(n_layers) for h in range(n_heads)]
    assert {f"{l}_mlp_out" for l in range(n_layers)} | {"embed", "bias"} <= set(labels)
    final = cache[f"blocks.{n_layers - 1}.hook_resid_post"]
    assert (components.sum(0) - final).abs().max() < 1e-4

    # each head's output, from HF: the output projection applied to z with the other heads zeroed, minus its bias
    model, z_inputs = reference(folder), {}
    projections = output_projections(model)
    handles = [p.register_forward_pre_hook(lambda m, args, l=l: z_inputs.__setitem__(l, args[0])) for l, p in enumerate(projections)]
    with torch.no_grad():
        model(IDS)
        for handle in handles:
            handle.remove()
        for layer, projection in enumerate(projections):
            z = z_inputs[layer]
            for head in range(n_heads):
                mask = torch.zeros(z.shape[-1])
                mask[head * d_head:(head + 1) * d_head] = 1
                expected = projection(z * mask) - projection(torch.zeros_like(z))
                got = components[labels.index(f"L{layer}H{head}")]
                torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_head_result_hooks_fire_per_head_and_agree_with_the_decomposition(random_folder):
    hm = HookedModel.from_pretrained(random_folder, head_results=True)
    _, cache = hm.run_with_cache(IDS)
    components, labels = hm.decompose(cache)
    result = cache["blocks.1.attn.hook_result"]
    assert result.shape == (2, 7, hm.cfg.n_heads, hm.cfg.d_model)
    torch.testing.assert_close(result[:, :, 2], components[labels.index("L1H2")], atol=1e-6, rtol=0)

    def drop_head(tensor, hook):  # [batch, pos, head, ...]
        tensor[:, :, 2] = 0
        return tensor

    # zeroing head 2's result is zeroing its z
    by_result = hm.run_with_hooks(IDS, fwd_hooks=[("blocks.1.attn.hook_result", drop_head)])
    by_z = HookedModel.from_pretrained(random_folder).run_with_hooks(IDS, fwd_hooks=[("blocks.1.attn.hook_z", drop_head)])
    torch.testing.assert_close(by_result, by_z, atol=1e-5, rtol=0)
    assert (by_result - hm(IDS)).abs().max() > 1e-4


def test_a_folder_without_a_tokenizer_or_model_is_one_sentence(tmp_path, random_folder):
    with pytest.raises(ArborError, match="does not exist"):
        HookedModel.from_pretrained(tmp_path / "nothing")
    bare = tmp_path / "bare"
    AutoModelForCausalLM.from_pretrained(random_folder).save_pretrained(bare)
    with pytest.raises(ArborError, match="has no tokenizer files"):
        HookedModel.from_pretrained(bare)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator knobs")
def test_a_repeated_run_with_cache_touches_no_fresh_memory(random_llama):
    """The cache keeps every activation alive; with freed memory kept, a second run reuses the first's."""
    assert keep_freed_memory()
    ids = torch.randint(3, random_llama.cfg.d_vocab, (16, 128))

    def page_faults_of_one_run() -> tuple[int, int]:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        with torch.no_grad():
            _, cache = random_llama.run_with_cache(ids)
        cached_pages = sum(tensor.numel() * tensor.element_size() for tensor in cache.values()) // 4096
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, cached_pages

    runs = [page_faults_of_one_run() for _ in range(5)]
    faults, cached_pages = min(runs[2:])  # the first runs grow the heap to its working size
    assert cached_pages > 5_000  # the cache is big enough to fault in thousands of pages if memory were handed back
    assert faults < cached_pages / 10


def test_unobserved_norms_skip_their_statistics_and_keep_every_bit(random_llama):
    """With no hook on hook_scale / hook_normalized, a norm runs HF's RMSNorm alone (one rsqrt, no sqrt)."""
    ids = torch.randint(3, random_llama.cfg.d_vocab, (2, 9))
    n_norms = 2 * random_llama.cfg.n_layers + 1

    def rsqrt_and_sqrt_calls(run) -> tuple[torch.Tensor, int, int]:
        with torch.no_grad(), torch.profiler.profile() as profile:
            logits = run()
        calls = {event.key: event.count for event in profile.key_averages()}
        return logits, calls.get("aten::rsqrt", 0), calls.get("aten::sqrt", 0)

    plain, plain_rsqrt, plain_sqrt = rsqrt_and_sqrt_calls(lambda: random_llama(ids))
    observed, observed_rsqrt, observed_sqrt = rsqrt_and_sqrt_calls(
        lambda: random_llama.run_with_hooks(ids, fwd_hooks=[(lambda name: name.endswith("hook_scale"), lambda tensor, hook: None)])
    )
    assert (plain_rsqrt, plain_sqrt) == (n_norms, 0)
    assert (observed_rsqrt, observed_sqrt) == (2 * n_norms, n_norms)  # the statistics, computed for the hooks
    assert torch.equal(plain, observed)


@pytest.mark.filterwarnings("ignore:run_with_hooks. skipped")
def test_with_no_hook_registered_the_forward_is_hfs_own_on_the_same_weights(random_folder):
    hm = HookedModel.from_pretrained(random_folder)
    if hm.bridge.cfg.architecture == "GPT2LMHeadModel":
        # TransformerLens computes GPT-2's LayerNorm itself, so its unhooked forward is not HF's bits
        assert hm.plain is None and torch.equal(hm(IDS), hm.bridge(IDS))
        return
    with torch.no_grad():
        hf = reference(random_folder)(IDS).logits
    assert not hm.hooks_registered() and torch.equal(hm(IDS), hf)  # HF eager's bits, through HF's own modules
    with hm.hooks(fwd_hooks=[("blocks.1.hook_resid_pre", lambda tensor, hook: tensor * 0.5)]):
        assert hm.hooks_registered() and not torch.equal(hm(IDS), hf)
    assert not hm.hooks_registered() and torch.equal(hm(IDS), hf)
    # one set of weights: an in-place edit through the bridge shows in the plain forward
    with torch.no_grad():
        next(hm.bridge.parameters()).mul_(1.5)
    edited = hm(IDS)
    assert not torch.equal(edited, hf)
    assert torch.equal(edited, hm.run_with_hooks(IDS, fwd_hooks=[(lambda name: True, lambda tensor, hook: tensor)]))
