"""Activation and attribution patching on compare minimal pairs, against exact identities and HF autograd."""

import pytest
import torch
from transformers import AutoModelForCausalLM

from arborlab.errors import ArborError
from arborlab.interp.patching import activation_patching, attribution_patching, correlation, minimal_pairs
from arborlab.interp.prompts import logit_diff
from arborlab.tasks import get_task
from tests.interp.test_model import output_projections

DIFFICULTY = {"max_value": 30}


@pytest.fixture(scope="module")
def pairs(toy):
    return minimal_pairs(toy, get_task("compare"), 6, seed=1, difficulty=DIFFICULTY, field="quantity_b")


def differing_position(pairs):
    (position,) = (pairs.clean_ids[0] != pairs.corrupt_ids[0]).nonzero()[:, 0].tolist()
    assert ((pairs.clean_ids != pairs.corrupt_ids).nonzero()[:, 1] == position).all()
    return position


def test_pairs_flip_the_answer_and_differ_in_one_number(toy, pairs):
    task = get_task("compare")
    for clean, corrupt in pairs.problems:
        assert task.solve(clean) != task.solve(corrupt)
        assert sum(clean[k] != corrupt[k] for k in clean) == 1
    assert (pairs.clean_answer != pairs.corrupt_answer).all()
    differing_position(pairs)


@pytest.mark.parametrize("mode", ["denoising", "noising"])
def test_layer_zero_patches_are_exactly_the_clean_or_corrupted_run(toy, pairs, mode):
    grids = activation_patching(toy, pairs, mode)
    n_layers, n_heads, n_pos = toy.cfg.n_layers, toy.cfg.n_heads, pairs.clean_ids.shape[1]
    assert grids["resid_pre"].shape == grids["mlp_out"].shape == (n_layers, n_pos)
    assert grids["head_out"].shape == (n_layers, n_heads)
    position = differing_position(pairs)
    swapped = 1.0 if mode == "denoising" else 0.0  # patching the one differing token swaps the whole input
    assert grids["resid_pre"][0, position].item() == pytest.approx(swapped, abs=1e-5)
    others = [p for p in range(n_pos) if p != position]
    assert (grids["resid_pre"][0, others] - (1.0 - swapped)).abs().max() < 1e-5
    # before the differing token nothing differs anywhere (causal attention)
    assert (grids["mlp_out"][:, :position] - (1.0 - swapped)).abs().max() < 1e-5


def test_a_head_patch_matches_the_same_patch_in_hf(toy, toy_folder, pairs):
    grids = activation_patching(toy, pairs, "denoising")
    model = AutoModelForCausalLM.from_pretrained(toy_folder, attn_implementation="eager").eval()
    projection, d_head, layer, head = output_projections(model)[1], toy.cfg.d_head, 1, 0
    saved = {}
    handle = projection.register_forward_pre_hook(lambda m, args: saved.__setitem__("z", args[0]))
    with torch.no_grad():
        clean_diff = logit_diff(model(pairs.clean_ids).logits, pairs.clean_answer, pairs.corrupt_answer).mean()
        handle.remove()
        corrupt_diff = logit_diff(model(pairs.corrupt_ids).logits, pairs.clean_answer, pairs.corrupt_answer).mean()
        heads = slice(head * d_head, (head + 1) * d_head)

        def put_clean_head(m, args):
            z = args[0].clone()
            z[..., heads] = saved["z"][..., heads]
            return (z,)

        projection.register_forward_pre_hook(put_clean_head)
        patched = logit_diff(model(pairs.corrupt_ids).logits, pairs.clean_answer, pairs.corrupt_answer).mean()
    expected = (patched - corrupt_diff) / (clean_diff - corrupt_diff)
    assert grids["head_out"][layer, head].item() == pytest.approx(expected.item(), abs=1e-4)


def test_attribution_patching_is_the_gradient_times_the_difference(toy, toy_folder, pairs):
    approx = attribution_patching(toy, pairs, "denoising")
    exact = activation_patching(toy, pairs, "denoising")
    # layer 0's residual is the token embedding: the same estimate with HF autograd on inputs_embeds
    model = AutoModelForCausalLM.from_pretrained(toy_folder).eval()
    embed = model.get_input_embeddings()
    with torch.no_grad():
        clean_diff = logit_diff(model(pairs.clean_ids).logits, pairs.clean_answer, pairs.corrupt_answer).mean()
        corrupt_diff = logit_diff(model(pairs.corrupt_ids).logits, pairs.clean_answer, pairs.corrupt_answer).mean()
    corrupt_embeds = embed(pairs.corrupt_ids).detach().requires_grad_(True)
    diff = logit_diff(model(inputs_embeds=corrupt_embeds).logits, pairs.clean_answer, pairs.corrupt_answer).mean()
    (diff / (clean_diff - corrupt_diff)).backward()
    expected = ((embed(pairs.clean_ids) - corrupt_embeds) * corrupt_embeds.grad).sum(dim=(0, 2))
    torch.testing.assert_close(approx["resid_pre"][0], expected.detach(), atol=1e-5, rtol=1e-4)
    for grid in exact:
        assert approx[grid].shape == exact[grid].shape
        assert -1.0 <= correlation(exact[grid], approx[grid]) <= 1.0


def test_patching_a_set_of_components_agrees_with_transformer_lens_grids(toy, pairs):
    from arborlab.interp.patching import patch_components

    grids = activation_patching(toy, pairs, "noising")
    assert patch_components(toy, pairs, ["L1H0"], "noising") == pytest.approx(grids["head_out"][1, 0].item(), abs=1e-5)
    assert patch_components(toy, pairs, [], "noising") == pytest.approx(1.0, abs=1e-6)
    # every head and MLP from the clean run: the last position's residual is then the clean one (its own token,
    # <answer>, embeds the same in both runs, and Llama has no biases), so the answer is fully restored
    everything = [f"L{l}H{h}" for l in range(2) for h in range(2)] + ["0_mlp_out", "1_mlp_out"]
    assert patch_components(toy, pairs, everything, "denoising") == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ArborError, match="is not a head"):
        patch_components(toy, pairs, ["embed"])


def test_bad_mode_and_tasks_without_pairs_are_one_sentence(toy, pairs):
    with pytest.raises(ArborError, match="denoising or noising"):
        activation_patching(toy, pairs, "both")
    with pytest.raises(ArborError, match="no minimal pairs"):
        minimal_pairs(toy, get_task("countdown"), 2)
