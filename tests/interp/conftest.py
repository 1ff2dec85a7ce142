"""Tiny models for the interp tests: random Llama, Qwen2 and GPT-2 folders, and one trained toy model."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from arborlab.interp.model import HookedModel
from arborlab.tasks import get_task
from arborlab.tokenizer import build_tokenizer
from arborlab.train.sft import SFTConfig, train_sft

ARCHITECTURES = ("llama", "qwen2", "gpt2")


def random_model(name: str, vocab_size: int):
    """A tiny model whose biases and norm weights are all non-zero (random init leaves them 0 and 1)."""
    torch.manual_seed(0)
    if name == "llama":
        model = LlamaForCausalLM(LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True))
    elif name == "qwen2":
        model = Qwen2ForCausalLM(Qwen2Config(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                             num_attention_heads=4, num_key_value_heads=2))
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                           bos_token_id=1, eos_token_id=2))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape))
    return model.eval()


@pytest.fixture(scope="session")
def compare_tokenizer():
    task = get_task("compare")
    problems = list(task.problems(50, seed=0, difficulty={"kind": "mixed"}))
    return build_tokenizer(task.prompt(p) + "\n" + task.trace(p, "search") for p in problems)


@pytest.fixture(scope="session")
def countdown_llama(tmp_path_factory):
    """A random Llama whose tokenizer knows countdown-3 search traces."""
    task = get_task("countdown")
    problems = list(task.problems(80, seed=0, difficulty={"n_numbers": 3}))
    tokenizer = build_tokenizer(task.prompt(p) + "\n" + task.trace(p, "search") for p in problems)
    return HookedModel.from_pretrained(save_random_folder("llama", tmp_path_factory, tokenizer))


def save_random_folder(name, tmp_path_factory, tokenizer):
    folder = tmp_path_factory.mktemp(name)
    random_model(name, len(tokenizer)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session", params=ARCHITECTURES)
def random_folder(request, tmp_path_factory, compare_tokenizer):
    return save_random_folder(request.param, tmp_path_factory, compare_tokenizer)


@pytest.fixture(scope="session")
def random_llama(tmp_path_factory, compare_tokenizer):
    """A random Llama whose tokenizer knows compare's search traces (the toy model's knows direct ones only)."""
    return HookedModel.from_pretrained(save_random_folder("llama", tmp_path_factory, compare_tokenizer))


@pytest.fixture(scope="session")
def toy_folder(tmp_path_factory):
    """A 2-layer Llama trained for a few seconds on direct compare traces."""
    out = tmp_path_factory.mktemp("toy") / "run"
    config = SFTConfig(
        task="compare", style="direct", difficulty={"max_value": 30}, n_problems=400, preset="1m",
        model={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2},
        batch_size=16, max_steps=30, warmup_steps=5, log_every=10, eval_every=1000, eval_problems=4,
        final_eval_problems=4, checkpoint_every=1000, max_new_tokens=12,
    )
    train_sft(config, out, show_progress=False)
    return out / "final"


@pytest.fixture(scope="session")
def toy(toy_folder):
    return HookedModel.from_pretrained(toy_folder)
