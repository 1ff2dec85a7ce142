"""Logit lens and direct logit attribution against Hugging Face activations and closed-form norms."""

import torch

from arborlab.interp.attribution import attribution_by_layer, direct_logit_attribution
from arborlab.interp.lens import logit_lens
from arborlab.interp.model import HookedModel
from arborlab.interp.prompts import logit_diff
from tests.interp.test_model import IDS, reference


def parts(model):
    """(final norm, unembedding, last MLP) of an HF Llama/Qwen2/GPT-2."""
    if hasattr(model, "transformer"):
        return model.transformer.ln_f, model.lm_head, model.transformer.h[-1].mlp
    return model.model.norm, model.lm_head, model.model.layers[-1].mlp


def test_logit_lens_reads_each_hf_hidden_state_through_the_final_norm(random_folder):
    hm = HookedModel.from_pretrained(random_folder)
    logits, cache = hm.run_with_cache(IDS)
    lens, labels = logit_lens(hm, cache, pos=3)
    n_layers = hm.cfg.n_layers
    assert lens.shape == (n_layers + 1, 2, hm.cfg.d_vocab) and labels[-1] == "final_post"
    model = reference(random_folder)
    norm, unembed, _ = parts(model)
    with torch.no_grad():
        hidden = model(IDS, output_hidden_states=True).hidden_states
        for layer in range(n_layers):
            torch.testing.assert_close(lens[layer], unembed(norm(hidden[layer][:, 3])), atol=1e-5, rtol=0)
    torch.testing.assert_close(lens[-1], logits[:, 3], atol=1e-6, rtol=0)


def test_dla_sums_to_the_logit_difference_and_matches_a_hand_computed_mlp(random_folder):
    hm = HookedModel.from_pretrained(random_folder)
    logits, cache = hm.run_with_cache(IDS)
    good, bad = torch.tensor([500, 17]), torch.tensor([9, 300])
    attributions, labels = direct_logit_attribution(hm, cache, good, bad)
    assert attributions.shape == (len(labels), 2)
    torch.testing.assert_close(attributions.sum(0), logit_diff(logits, good, bad), atol=1e-4, rtol=0)
    has_bias = hm.cfg.normalization_type == "LN"
    assert ("ln_final bias" in labels) == has_bias

    # the last MLP's share, by hand: its output through the frozen final norm, dotted with W_U[good] - W_U[bad]
    model, seen = reference(random_folder), {}
    norm, unembed, mlp = parts(model)
    norm.register_forward_pre_hook(lambda m, args: seen.__setitem__("resid", args[0][:, -1]))
    mlp.register_forward_hook(lambda m, args, out: seen.__setitem__("mlp", out[:, -1]))
    with torch.no_grad():
        model(IDS)
    resid, out = seen["resid"], seen["mlp"]
    if has_bias:
        resid, out = resid - resid.mean(-1, keepdim=True), out - out.mean(-1, keepdim=True)
    scale = (resid.pow(2).mean(-1, keepdim=True) + hm.cfg.eps).sqrt()
    direction = unembed.weight[good] - unembed.weight[bad]
    expected = (out / scale * norm.weight * direction).sum(-1)
    got = attributions[labels.index(f"{hm.cfg.n_layers - 1}_mlp_out")]
    torch.testing.assert_close(got, expected.detach(), atol=1e-5, rtol=0)

    by_layer, layer_labels = attribution_by_layer(attributions, labels, hm.cfg.n_layers)
    assert layer_labels[:4] == ["0_attn", "0_mlp_out", "1_attn", "1_mlp_out"]
    heads = [labels.index(f"L1H{h}") for h in range(hm.cfg.n_heads)]
    torch.testing.assert_close(by_layer[2], attributions[heads].sum(0))
    torch.testing.assert_close(by_layer.sum(0), attributions.sum(0))
