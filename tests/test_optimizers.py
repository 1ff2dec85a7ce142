"""SFT optimizers: Muon's share of the parameters, its checkpoints, and the refusal of unknown names."""

import copy
import shutil

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from arborlab.errors import ArborError
from arborlab.runs import RunFolder
from arborlab.train.optimizers import ShapeBatchedMuon, build_optimizers, muon_parameters
from arborlab.train.sft import train_sft
from tests.test_sft import _losses, tiny_config


def _tiny_llama(tied: bool) -> LlamaForCausalLM:
    config = LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, tie_word_embeddings=tied)
    return LlamaForCausalLM(config)


@pytest.mark.parametrize("tied", [True, False])
def test_muon_takes_exactly_the_hidden_matrices(tied):
    model = _tiny_llama(tied)
    matrices, rest = muon_parameters(model)
    names = {id(p): n for n, p in model.named_parameters()}
    projections = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
    expected = sorted(n for n in names.values() if n.endswith(".weight") and any(f".{p}." in n for p in projections))
    assert sorted(names[id(p)] for p in matrices) == expected and len(expected) == 2 * 7
    # every parameter is in exactly one share: embeddings, head and norms stay with AdamW
    assert sorted(map(id, matrices + rest)) == sorted(names) and not {id(p) for p in matrices} & {id(p) for p in rest}
    assert any("embed_tokens" in names[id(p)] for p in rest) and all(p.ndim == 1 or "embed" in names[id(p)] or "lm_head" in names[id(p)] for p in rest)


def test_muon_moves_every_parameter_and_its_state_round_trips():
    model = _tiny_llama(True)
    optimizers = build_optimizers(model, "muon", 1e-2, 0.01)
    before = [p.detach().clone() for p in model.parameters()]
    model(input_ids=torch.randint(0, 50, (2, 6)), labels=torch.randint(0, 50, (2, 6))).loss.backward()
    optimizers.step()
    assert all(not torch.equal(b, p) for b, p in zip(before, model.parameters()))
    state = optimizers.state_dict()
    assert len(state["members"]) == 2
    fresh = build_optimizers(model, "muon", 1e-2, 0.01)
    fresh.load_state_dict(state)
    for loaded, saved in zip(fresh.members, optimizers.members):
        for a, b in zip(loaded.state.values(), saved.state.values()):
            assert all(torch.equal(a[k], b[k]) if torch.is_tensor(a[k]) else a[k] == b[k] for k in b)


@pytest.mark.parametrize(("nesterov", "adjust_lr_fn"), [(True, "match_rms_adamw"), (False, "match_rms_adamw"), (True, "original")])
def test_shape_batched_muon_steps_as_torchs_muon(nesterov, adjust_lr_fn):
    """Stacking same-shape matrices changes nothing but speed: the weights after five steps match
    torch.optim.Muon's on a model with square, wide and tall matrices (bf16 rounding allowed)."""
    torch.manual_seed(0)
    reference = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2))
    batched, initial = copy.deepcopy(reference), copy.deepcopy(reference)
    settings = dict(lr=1e-2, weight_decay=0.05, nesterov=nesterov, adjust_lr_fn=adjust_lr_fn)
    optimizers = [torch.optim.Muon(muon_parameters(reference)[0], **settings), ShapeBatchedMuon(muon_parameters(batched)[0], **settings)]
    assert len({tuple(p.shape) for p in muon_parameters(batched)[0]}) == 4  # q/o, k/v, gate/up, down
    for _ in range(5):
        ids = torch.randint(0, 50, (2, 8))
        for model, optimizer in zip((reference, batched), optimizers):
            model(input_ids=ids, labels=ids).loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    for expected, got in zip(muon_parameters(reference)[0], muon_parameters(batched)[0]):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-4)
    assert all((p - q).abs().max() > 1e-3 for p, q in zip(muon_parameters(batched)[0], muon_parameters(initial)[0]))
    states = [optimizers[0].state[p]["momentum_buffer"] for p in muon_parameters(reference)[0]]
    for state, p in zip(states, muon_parameters(batched)[0]):
        torch.testing.assert_close(optimizers[1].state[p]["momentum_buffer"], state, rtol=0, atol=1e-5)


def test_a_muon_run_resumed_from_its_checkpoint_continues_the_same_curve(tmp_path):
    config = tiny_config(optimizer="muon", max_steps=20, checkpoint_every=10, eval_every=1000, log_every=2)
    train_sft(config, tmp_path / "straight", show_progress=False)
    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    shutil.rmtree(RunFolder(tmp_path / "resumed").final)  # as if killed after the step-10 checkpoint
    train_sft(config, tmp_path / "resumed", resume=True, show_progress=False)
    straight, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "resumed")
    assert sorted(resumed) == sorted(straight) == list(range(2, 21, 2))
    for step in straight:
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5), step


def test_an_unknown_optimizer_is_refused_before_any_work(tmp_path):
    with pytest.raises(ArborError, match="optimizer must be one of adamw, muon, got 'sgd'"):
        train_sft(tiny_config(optimizer="sgd"), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run" / "data").exists()
