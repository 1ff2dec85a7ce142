"""Tiny Llama presets, and loading and saving Hugging Face causal-LM folders."""

import json
import os

import pytest
import torch
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast, T5Config

from arborlab.errors import ArborError
from arborlab.models import PRESETS, load_model, make_config, save_model

WORDS = ["<pad>", "<s>", "</s>", "<unk>", "<think>", "</think>", "<answer>", "</answer>"] + [str(n) for n in range(40)]


def tiny_tokenizer() -> PreTrainedTokenizerFast:
    vocab = {word: index for index, word in enumerate(WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )


def tiny_model(seed: int = 0, **overrides) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    settings = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2) | overrides
    config = make_config("1m", len(WORDS), bos_token_id=1, eos_token_id=2, pad_token_id=0, **settings)
    return LlamaForCausalLM(config).eval()


@pytest.fixture
def saved(tmp_path):
    """A saved tiny model with its tokenizer: (folder, model)."""
    model = tiny_model()
    folder = save_model(model, tiny_tokenizer(), tmp_path / "model")
    return folder, model


@pytest.mark.parametrize("preset, nominal", [("1m", 1e6), ("3m", 3e6), ("20m", 20e6)])
def test_presets_have_their_nominal_size_with_a_1100_token_vocabulary(preset, nominal):
    config = make_config(preset, 1100, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    with torch.device("meta"):  # shapes only, no memory
        model = LlamaForCausalLM(config)
    count = sum(p.numel() for p in model.parameters())
    assert 0.9 * nominal <= count <= 1.1 * nominal, count


def test_make_config_sets_vocabulary_special_ids_and_overrides():
    config = make_config("3m", 1100, bos_token_id=1, eos_token_id=2, pad_token_id=0, num_hidden_layers=8)
    assert (config.vocab_size, config.bos_token_id, config.eos_token_id, config.pad_token_id) == (1100, 1, 2, 0)
    assert config.num_hidden_layers == 8
    assert config.hidden_size == PRESETS["3m"]["hidden_size"]
    assert config.tie_word_embeddings


def test_make_config_rejects_unknown_presets_and_settings():
    with pytest.raises(ArborError, match="unknown model preset '5m'; choose one of 1m, 3m, 20m."):
        make_config("5m", 100)
    with pytest.raises(ArborError, match="'hiden_size' is not a LlamaConfig setting."):
        make_config("1m", 100, hiden_size=64)


def test_save_and_load_round_trip(saved):
    folder, model = saved
    loaded, tokenizer = load_model(folder)
    assert not loaded.training
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    assert tokenizer("<think> 3 4 </think>").input_ids == [4, 11, 12, 5]
    assert tokenizer.eos_token_id == 2
    assert not [name for name in os.listdir(folder.parent) if name.startswith(".")]  # no staging folders left


def test_save_refuses_an_existing_folder_unless_overwrite(saved):
    folder, _ = saved
    with pytest.raises(ArborError, match="already exists; pass --overwrite"):
        save_model(tiny_model(seed=1), None, folder)
    replacement = tiny_model(seed=1)
    save_model(replacement, None, folder, overwrite=True)
    loaded, tokenizer = load_model(folder)
    assert tokenizer is None  # the old folder, tokenizer included, was replaced as a whole
    assert torch.equal(loaded.lm_head.weight, replacement.lm_head.weight)
    assert sorted(os.listdir(folder.parent)) == ["model"]


def test_a_folder_without_tokenizer_loads_with_tokenizer_none(tmp_path):
    folder = save_model(tiny_model(), None, tmp_path / "bare")
    model, tokenizer = load_model(folder)
    assert tokenizer is None and model.config.vocab_size == len(WORDS)


def test_load_model_explains_a_missing_path_or_a_file(tmp_path):
    with pytest.raises(ArborError, match=r"^the model folder .*nowhere does not exist\.$"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "weights.bin").write_bytes(b"x")
    with pytest.raises(ArborError, match=r"is a file, but a model is a folder holding config.json and the weights\.$"):
        load_model(tmp_path / "weights.bin")


def test_load_model_explains_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ArborError, match=r"is not a Hugging Face model folder: it has no config.json\.$"):
        load_model(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ArborError, match=r"^the config.json in .* cannot be read: .*\.$"):
        load_model(tmp_path)


def test_load_model_refuses_a_model_that_is_not_a_causal_lm(tmp_path):
    T5Config(d_model=8, num_layers=1, num_heads=1, d_kv=8, d_ff=8, vocab_size=10).save_pretrained(tmp_path)
    with pytest.raises(ArborError, match=r"holds a 't5' model, which is not a causal language model\.$"):
        load_model(tmp_path)


def test_load_model_explains_missing_truncated_and_mismatched_weights(saved):
    folder, _ = saved
    weights = folder / "model.safetensors"
    data = weights.read_bytes()

    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArborError, match=r"^the weights in .* are truncated or corrupt \(.*\)\.$"):
        load_model(folder)

    weights.unlink()
    with pytest.raises(ArborError, match=r"has a config.json but no weights file \(model.safetensors\)\.$"):
        load_model(folder)

    # Weights of a one-layer model under the two-layer config: layer 1's tensors are missing.
    save_model(tiny_model(num_hidden_layers=1), None, folder.parent / "shallow")
    weights.write_bytes((folder.parent / "shallow" / "model.safetensors").read_bytes())
    with pytest.raises(ArborError, match=r"do not match its config.json: 9 tensors are missing, e.g. model.layers.1"):
        load_model(folder)

    config = json.loads((folder / "config.json").read_text())
    config["num_hidden_layers"] = 1
    config["hidden_size"] = 64
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ArborError, match=r"do not match its config.json: \d+ tensors are of the wrong shape"):
        load_model(folder)


def test_digit_number_init_spells_each_number_and_scores_outputs_digit_by_digit():
    from arborlab.models import init_number_embeddings
    from arborlab.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(["numbers 1 2 target 3"])
    torch.manual_seed(0)
    config = make_config("1m", len(tokenizer), bos_token_id=1, eos_token_id=2, pad_token_id=0, num_hidden_layers=1)
    model = LlamaForCausalLM(config)
    before = model.get_input_embeddings().weight.detach().clone()
    assert init_number_embeddings(model, tokenizer, "random") == 0
    assert torch.equal(model.get_input_embeddings().weight, before)
    assert init_number_embeddings(model, tokenizer, "digits") == 1100  # 0-999 and the tails 000-099
    weight = model.get_input_embeddings().weight.detach()
    # the last three digits of 1081 start spelling 81's digits
    assert torch.equal(weight[tokenizer.convert_tokens_to_ids("081"), :30], weight[tokenizer.convert_tokens_to_ids("81"), :30])
    row = weight[tokenizer.convert_tokens_to_ids("472")]
    scale = row[2]
    assert scale > 0 and torch.equal((row[:30] != 0).nonzero().flatten(), torch.tensor([2, 17, 24]))
    assert torch.allclose(row[[2, 17, 24]], scale.expand(3))
    assert torch.equal(row[30:], before[tokenizer.convert_tokens_to_ids("472")][30:])  # the rest keeps its init
    # tied output: a hidden state that likes units 2, tens 7 and hundreds 4 scores 472 above every other number
    hidden = torch.zeros(weight.shape[1])
    hidden[[2, 17, 24]] = 1.0
    numbers = [tokenizer.convert_tokens_to_ids(str(n)) for n in range(1000)]
    scores = (weight[numbers, :30] @ hidden[:30])
    assert int(scores.argmax()) == 472 and torch.isclose(scores[472], 3 * scale)
    assert model.get_output_embeddings().weight.data_ptr() == model.get_input_embeddings().weight.data_ptr()
    with pytest.raises(ArborError, match="unknown number embedding init"):
        init_number_embeddings(model, tokenizer, "abacus")


@pytest.mark.parametrize("scheme", ["fourier", "fourier-harmonics"])
def test_fourier_number_init_puts_numbers_on_circles_where_adding_is_rotating(scheme):
    from arborlab.models import FOURIER_PERIODS, HARMONIC_PERIODS, init_number_embeddings
    from arborlab.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(["numbers 1 2 target 3"])
    torch.manual_seed(0)
    model = LlamaForCausalLM(make_config("1m", len(tokenizer), bos_token_id=1, eos_token_id=2, pad_token_id=0, num_hidden_layers=1))
    periods = {"fourier": FOURIER_PERIODS, "fourier-harmonics": (2, 2.5, 5, 10, 100, 1000)}[scheme]
    assert HARMONIC_PERIODS == (2, 2.5, 5) + FOURIER_PERIODS
    assert init_number_embeddings(model, tokenizer, scheme) == 1100
    weight = model.get_input_embeddings().weight.detach().double()
    rows = weight[[tokenizer.convert_tokens_to_ids(str(n)) for n in range(1000)]]
    scale = float(rows[0, 0])  # digit one-hots as in "digits": 0 has units digit 0
    assert torch.equal((rows[472, :30] != 0).nonzero().flatten(), torch.tensor([2, 17, 24]))
    circles = torch.view_as_complex(rows[:, 30 : 30 + 2 * len(periods)].reshape(1000, -1, 2).contiguous()) / scale
    for period, column in zip(periods, circles.T):  # closed form: e^(2πi n / T)
        n = torch.arange(1000, dtype=torch.float64)
        assert torch.allclose(column, torch.polar(torch.ones(1000, dtype=torch.float64), 2 * torch.pi * n / period))
    a, b = torch.meshgrid(torch.arange(500), torch.arange(500), indexing="ij")
    assert torch.allclose(circles[a] * circles[b], circles[a + b])  # a + b: each circle rotates by b's angle
    # tied output: a hidden state on the circles of 683 scores 683 highest among the circle parts
    scores = rows[:, 30 : 30 + 2 * len(periods)] @ rows[683, 30 : 30 + 2 * len(periods)]
    assert int(scores.argmax()) == 683
