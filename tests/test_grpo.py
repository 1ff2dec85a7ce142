"""GRPO: the loss on hand-computed tensors and against TRL's, the loop's run folder, resume after kill -9,
and TRL's GRPOTrainer driven by our reward function."""

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from arborlab.evaluate import evaluate_rows
from arborlab.models import load_model
from arborlab.errors import ArborError
from arborlab.runs import RunFolder, read_toml
from arborlab.tasks import get_task
from arborlab.train.curriculum import ProblemSampler, difficulty_at
from arborlab.train.grpo import GRPOConfig, heldout_rows, rollout_batch, token_logprobs, train_grpo
from arborlab.train.grpo_loss import group_advantages, grpo_loss
from arborlab.train.sft import SFTConfig, train_sft

# ---- the loss, by hand ------------------------------------------------------------------------

# Two completions: ratios [1.5, 0.5] with Â = 1, and [1.1, (pad)] with Â = −2; ε = 0.2.
RATIOS = torch.tensor([[1.5, 0.5], [1.1, 1.0]])
MASK = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
ADVANTAGES = torch.tensor([1.0, -2.0])
# Per-token −min(ρÂ, clip(ρ)Â): [−1.2 (clipped at 1.2), −0.5], [2.2]
PER_TOKEN_SUMS = (-1.7, 2.2)


def _loss(**options):
    logprobs = RATIOS.log().requires_grad_()
    loss, stats = grpo_loss(logprobs, torch.zeros(2, 2), ADVANTAGES, MASK, **options)
    loss.backward()
    return loss.item(), stats, logprobs.grad


def test_sequence_token_and_constant_aggregation_by_hand():
    assert _loss()[0] == pytest.approx((-1.7 / 2 + 2.2 / 1) / 2)  # GRPO: mean of per-sequence means
    assert _loss(aggregation="token")[0] == pytest.approx((-1.7 + 2.2) / 3)  # DAPO: over all tokens
    assert _loss(aggregation="constant", max_length=4)[0] == pytest.approx((-1.7 + 2.2) / (2 * 4))  # Dr. GRPO


def test_gradients_and_clip_statistics_by_hand():
    loss, stats, grad = _loss()
    # d/dlogp of −ρÂ/|o|/G is −ρÂ/(|o|·G); the clipped token and padding get none.
    expected = torch.tensor([[0.0, -0.5 * 1 / (2 * 2)], [1.1 * 2 / (1 * 2), 0.0]])
    assert torch.allclose(grad, expected)
    assert stats["clip_high"] == pytest.approx(1 / 3) and stats["clip_low"] == 0.0
    assert stats["clip_fraction"] == pytest.approx(1 / 3)
    # clip-higher: ε_high = 0.6 no longer clips ρ = 1.5
    assert _loss(epsilon_high=0.6)[0] == pytest.approx((-2.0 / 2 + 2.2) / 2)
    assert _loss(epsilon_high=0.6)[1]["clip_fraction"] == 0.0


def test_k3_kl_penalty_by_hand():
    ref = torch.zeros(2, 2)  # π_ref = π_old, so log(π_ref/π_θ) = −log ρ
    kl = [[1 / r - math.log(1 / r) - 1 for r in row] for row in RATIOS.tolist()]
    beta = 0.1
    loss, stats, _ = _loss(ref_logprobs=ref, beta=beta)
    sums = [PER_TOKEN_SUMS[0] + beta * (kl[0][0] + kl[0][1]), PER_TOKEN_SUMS[1] + beta * kl[1][0]]
    assert loss == pytest.approx((sums[0] / 2 + sums[1]) / 2)
    assert stats["kl"] == pytest.approx((kl[0][0] + kl[0][1] + kl[1][0]) / 3)


def test_entropy_bonus_and_high_entropy_tokens_by_hand():
    entropies = torch.tensor([[2.0, 1.0], [3.0, 9.0]])  # 9.0 sits on padding and must not count
    plain = _loss()[0]
    loss, stats, _ = _loss(entropies=entropies, entropy_coef=0.1)
    assert stats["entropy"] == pytest.approx(2.0) and loss == pytest.approx(plain - 0.1 * 2.0)
    # Top half by entropy among the real tokens (2, 1, 3): the quantile-0.5 threshold is 2, keeping 2 and 3.
    loss, _, grad = _loss(entropies=entropies, top_entropy_quantile=0.5)
    assert loss == pytest.approx((-1.2 / 2 + 2.2) / 2) and grad[0, 1] == 0.0


def test_group_advantages_by_hand():
    rewards = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    std = math.sqrt(4 * 0.25 / 3)  # Bessel-corrected
    expected = torch.tensor([[0.5, -0.5, -0.5, 0.5], [0, 0, 0, 0]]) / torch.tensor([[std + 1e-4], [1e-4]])
    assert torch.allclose(group_advantages(rewards), expected)
    assert torch.equal(group_advantages(rewards, scale=False), torch.tensor([[0.5, -0.5, -0.5, 0.5], [0.0] * 4]))


# ---- the loss against TRL's GRPOTrainer._compute_loss on the same batch -----------------------------


def _tiny_llama(vocab=40):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2,
                         num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(config)


def _trl_trainer(tmp_path, **options):
    from datasets import Dataset
    from transformers import PreTrainedTokenizerFast
    from tokenizers import Tokenizer, models
    from trl import GRPOConfig as TRLConfig, GRPOTrainer

    vocab = {f"t{i}": i for i in range(40)}
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="t3")),
                                        pad_token="t0", bos_token="t1", eos_token="t2")
    args = TRLConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=4, num_generations=4, max_completion_length=5,
                     use_cpu=True, report_to=[], save_strategy="no", **options)
    dataset = Dataset.from_list([{"prompt": "t5"}] * 4)
    return GRPOTrainer(model=_tiny_llama(), reward_funcs=lambda completions, **kw: [0.0] * len(completions), args=args,
                       train_dataset=dataset, processing_class=tokenizer)


TRL_CASES = [
    ("grpo", "sequence", {}),
    ("bnpo", "token", {}),
    ("dapo", "token", {"epsilon_high": 0.28}),
    ("dr_grpo", "constant", {}),
    ("grpo", "sequence", {"beta": 0.05, "epsilon_high": 0.28, "use_bias_correction_kl": False}),
    ("bnpo", "token", {"beta": 0.05, "use_bias_correction_kl": True}),
    ("dapo", "token", {"entropy_coef": 0.01, "top_entropy_quantile": 0.5}),
]


@pytest.mark.parametrize("loss_type, aggregation, options", TRL_CASES)
def test_loss_equals_trl_compute_loss(tmp_path, loss_type, aggregation, options):
    trainer = _trl_trainer(tmp_path, loss_type=loss_type, **{k: v for k, v in options.items() if k != "beta"})
    trainer.beta = options.get("beta", 0.0)  # set after construction: with beta > 0 TRL would load a reference from the hub
    trainer.current_gradient_accumulation_steps = 1
    generator = torch.Generator().manual_seed(7)
    batch, length = 4, 5
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 0]])
    old = -torch.rand(batch, length, generator=generator) * 3
    current = old + 0.4 * torch.randn(batch, length, generator=generator)  # ratios well outside [0.8, 1.2]
    ref = old + 0.2 * torch.randn(batch, length, generator=generator)
    entropy = torch.rand(batch, length, generator=generator) * 2
    advantages = torch.tensor([1.2, -0.7, 0.3, -1.5])

    theirs_logps, theirs_entropy = current.clone().requires_grad_(), entropy.clone().requires_grad_()
    trainer._get_per_token_logps_and_entropies = lambda *a, **k: (theirs_logps, theirs_entropy, None)
    inputs = {"prompt_ids": torch.ones(batch, 2, dtype=torch.long), "prompt_mask": torch.ones(batch, 2, dtype=torch.long),
              "completion_ids": torch.ones(batch, length, dtype=torch.long), "completion_mask": mask,
              "advantages": advantages, "old_per_token_logps": old, "ref_per_token_logps": ref,
              "num_items_in_batch": mask.sum()}
    theirs = trainer._compute_loss(trainer.model, inputs)
    theirs.backward()

    ours_logps, ours_entropy = current.clone().requires_grad_(), entropy.clone().requires_grad_()
    ours, stats = grpo_loss(ours_logps, old, advantages, mask, ref_logprobs=ref, beta=options.get("beta", 0.0),
                            kl_importance_weight=options.get("use_bias_correction_kl", False),
                            epsilon_low=0.2, epsilon_high=options.get("epsilon_high", 0.2), aggregation=aggregation,
                            max_length=length, entropies=ours_entropy, entropy_coef=options.get("entropy_coef", 0.0),
                            top_entropy_quantile=options.get("top_entropy_quantile", 1.0))
    ours.backward()
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-5, abs=1e-7)
    assert torch.allclose(ours_logps.grad, theirs_logps.grad, atol=1e-6)
    grads = [torch.zeros(batch, length) if t.grad is None else t.grad for t in (ours_entropy, theirs_entropy)]
    assert torch.allclose(*grads, atol=1e-6)  # the entropy bonus's gradient (none without one)
    assert stats["clip_fraction"] > 0
    assert stats["clip_fraction"] == pytest.approx(trainer._metrics["train"]["clip_ratio/region_mean"][-1], rel=1e-5)


# ---- the loop ---------------------------------------------------------------------------------

TOY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2}


def toy_model(base: Path) -> Path:
    """A tiny SFT model on `compare` (yes/no answers; about half right greedily), trained once per session."""
    final = base / "toy-sft" / "final"
    if not final.is_dir():
        config = SFTConfig(task="compare", style="direct", n_problems=400, preset="1m", model=TOY, batch_size=16,
                           learning_rate=3e-3, warmup_steps=5, max_steps=80, log_every=40, eval_every=1000,
                           final_eval_problems=10, checkpoint_every=1000, max_new_tokens=12)
        train_sft(config, base / "toy-sft", show_progress=False)
    return final


@pytest.fixture(scope="session")
def sft_model(tmp_path_factory) -> Path:
    return toy_model(tmp_path_factory.getbasetemp())


def grpo_config(init, **overrides) -> GRPOConfig:
    values = dict(init=str(init), task="compare", max_steps=6, prompts_per_step=4, group_size=4, max_new_tokens=12,
                  learning_rate=1e-3, eval_every=3, eval_problems=12, checkpoint_every=2, pool_size=60)
    values.update(overrides)
    return GRPOConfig(**values)


def test_sampler_logprobs_equal_the_training_forward(sft_model):
    """π_old from the sampler and π_θ from the loss's forward agree before any update: ratio 1."""
    from arborlab.completions import complete
    from arborlab.train.batches import prompt_ids

    model, tokenizer = load_model(sft_model)
    task = get_task("compare")
    problems = list(task.problems(3, seed=5))
    prompts = [task.prompt(p) for p in problems]
    groups = complete(model, tokenizer, prompts, 2, 1.3, 12, seed=1)
    completions = [c for group in groups for c in group]
    batch = rollout_batch([prompt_ids(tokenizer, p) for p in prompts for _ in range(2)], completions, torch.zeros(6), tokenizer.pad_token_id)
    with torch.no_grad():
        logprobs, _ = token_logprobs(model, batch["input_ids"], batch["start"], 1.3)
    assert batch["mask"].sum() == sum(len(c.tokens) for c in completions)
    assert torch.allclose(logprobs * batch["mask"], batch["old_logprobs"], atol=1e-4)


def test_a_grpo_run_folder_holds_everything(sft_model, tmp_path):
    config = grpo_config(sft_model, passk_problems=4, passk_samples=4, controls=["random"], eval_samples=3)
    summary = train_grpo(config, tmp_path / "run", show_progress=False)
    run = RunFolder(tmp_path / "run")
    metrics = run.read_metrics()
    steps = [m for m in metrics if "reward_mean" in m]
    assert [m["step"] for m in steps] == list(range(1, 7))
    for name in ("reward_std", "accuracy", "response_length", "entropy", "kl", "clip_fraction", "zero_advantage_share",
                 "tokens_per_second", "loss", "grad_norm"):
        assert all(name in m for m in steps if m["zero_advantage_share"] < 1), name
    for m in steps:  # binary exact reward: its mean is the verifier's accuracy
        assert m["reward_mean"] == pytest.approx(m["accuracy"])
    # Held-out accuracy before RL is the initial model's greedy accuracy on the same test-split problems.
    model, tokenizer = load_model(sft_model)
    rows = heldout_rows(get_task("compare"), 12, 0, get_task("compare").difficulty({}))
    assert summary["heldout_accuracy_before"] == evaluate_rows(model, tokenizer, "compare", rows, max_new_tokens=12)["accuracy"]
    # ... and its sampled pass@1 the mean verdict of 3 samples each at the training temperature.
    sampled = evaluate_rows(model, tokenizer, "compare", rows, 3, config.temperature, (1,), 12, config.seed)
    verdicts = [get_task("compare").verify(p["problem"], p["answer"]) for p in sampled["predictions"]]
    assert summary["heldout_pass1_before"] == pytest.approx(sum(v.correct for v in verdicts) / len(verdicts))
    assert [m["step"] for m in metrics if "heldout_accuracy" in m] == [0, 3, 6]
    assert [m["step"] for m in metrics if "heldout_pass@1" in m] == [0, 3, 6] and summary["heldout_samples"] == 3
    assert set(summary["pass_at_k"]) == {"before", "after"} and set(summary["pass_at_k"]["after"]) >= {"pass@1", "pass@4"}
    assert run.checkpoint_steps() == [2, 4] and (run.final / "model.safetensors").is_file()
    assert GRPOConfig.from_dict(run.read_config()).controls == ["random"]
    for name in ("metrics.png", "pass_at_k.png", "report.html", "summary.json", "controls/random/summary.json"):
        assert (run.path / name).is_file(), name
    assert "random" in (run.path / "report.html").read_text()


def test_dynamic_sampling_learnability_and_schedule_run(sft_model, tmp_path):
    config = grpo_config(sft_model, max_steps=3, dynamic_sampling=True, sampling="learnability", loss_aggregation="token",
                         scale_advantages=False, epsilon_high=0.28, entropy_coef=0.01, beta=0.02, minibatches=2,
                         epochs_per_step=2, difficulty_schedule=[{"step": 2, "max_value": 10}], eval_every=100)
    train_grpo(config, tmp_path / "run", show_progress=False)
    steps = [m for m in RunFolder(tmp_path / "run").read_metrics() if "reward_mean" in m]
    assert len(steps) == 3 and all(0 <= m["zero_advantage_share"] <= 1 for m in steps)


def test_dynamic_sampling_refills_dropped_groups_with_fresh_prompts(sft_model, tmp_path):
    """Random rewards over groups of 2 leave about half the groups without signal; refills make them up."""
    common = dict(max_steps=2, dynamic_sampling=True, reward="random", random_reward_p=0.5, group_size=2, prompts_per_step=6,
                  eval_every=100, max_new_tokens=8)
    metrics = {}
    for rounds in (1, 6):
        train_grpo(grpo_config(sft_model, dynamic_sampling_rounds=rounds, **common), tmp_path / f"r{rounds}", show_progress=False)
        metrics[rounds] = [m for m in RunFolder(tmp_path / f"r{rounds}").read_metrics() if "reward_mean" in m]
    for m in metrics[1]:  # no refill: the groups with signal among the 6 drawn
        assert m["sampling_rounds"] == 1 and m["groups_trained"] == round(6 * (1 - m["zero_advantage_share"]))
    for m in metrics[6]:  # refilled up to 6 groups with signal, over several rounds of fresh prompts
        drawn = 6 * m["sampling_rounds"]
        with_signal = round(drawn * (1 - m["zero_advantage_share"]))
        assert m["groups_trained"] == min(6, with_signal)
        assert m["sampling_rounds"] == 6 or with_signal >= 6
    assert any(m["sampling_rounds"] > 1 for m in metrics[6]) and all(m["groups_trained"] == 6 for m in metrics[6] if m["sampling_rounds"] < 6)


def test_learnability_prefers_problems_near_half_success():
    task = get_task("countdown")
    sampler = ProblemSampler(task, task.difficulty({"n_numbers": 2}), [], 40, "learnability", seed=0)
    pool = sampler.pool(1)
    for problem in pool[:30]:
        sampler.record(problem, 20, 20)  # solved every time: p = 21/22, weight ≈ 0.043
    assert sampler.learnability(pool[0]) == pytest.approx(21 / 22 * 1 / 22)
    assert sampler.learnability(pool[35]) == 0.25  # unseen: p = 1/2
    drawn = [task.problem_hash(p) for step in range(1, 401) for p in sampler.draw(step, 1)]
    fresh = {task.problem_hash(p) for p in pool[30:]}
    # One draw picks a problem with probability ∝ its weight: the 10 unseen ones hold 2.5 / (2.5 + 30 · 21/484) of it
    # (uniform sampling would give 10/40).
    expected = 2.5 / (2.5 + 30 * 21 / 484)
    assert abs(sum(h in fresh for h in drawn) / len(drawn) - expected) < 4 * math.sqrt(expected * (1 - expected) / 400)
    assert len(set(map(task.problem_hash, sampler.draw(1, 5)))) == 5  # several per step: distinct
    uniform = ProblemSampler(task, task.difficulty({"n_numbers": 2}), [], 40, "uniform", seed=0)
    assert uniform.draw(3, 5) == uniform.draw(3, 5) and uniform.draw(3, 5) != uniform.draw(4, 5)


def test_difficulty_schedule():
    schedule = [{"step": 10, "n_numbers": 3}, {"step": 20, "n_numbers": 4, "use_all": False}]
    base = {"n_numbers": 2, "use_all": True}
    assert difficulty_at(9, base, schedule) == base
    assert difficulty_at(10, base, schedule) == {"n_numbers": 3, "use_all": True}
    assert difficulty_at(25, base, schedule) == {"n_numbers": 4, "use_all": False}


def _step_metrics(run_dir):
    return {m["step"]: m for m in RunFolder(run_dir).read_metrics() if "reward_mean" in m}


def test_resume_after_kill_continues_the_same_stream(sft_model, tmp_path):
    config = grpo_config(sft_model, max_steps=10, checkpoint_every=4, eval_every=100, reward="random")
    train_grpo(config, tmp_path / "straight", show_progress=False)

    script = (
        "import sys; from tests.test_grpo import grpo_config; from arborlab.train.grpo import train_grpo;"
        "train_grpo(grpo_config(sys.argv[1], max_steps=10, checkpoint_every=4, eval_every=100, reward='random'),"
        " sys.argv[2], show_progress=False)"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    process = subprocess.Popen([sys.executable, "-c", script, str(sft_model), str(tmp_path / "killed")],
                               cwd=Path(__file__).parents[1], env=env)
    run = RunFolder(tmp_path / "killed")
    deadline = time.time() + 240
    while not any(step >= 4 for step in run.checkpoint_steps()) and time.time() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert run.checkpoint_steps() and not run.final.exists()

    train_grpo(GRPOConfig(), tmp_path / "killed", resume=True, show_progress=False)
    straight, resumed = _step_metrics(tmp_path / "straight"), _step_metrics(tmp_path / "killed")
    assert sorted(resumed) == sorted(straight) == list(range(1, 11))
    for step in straight:
        for name in ("reward_mean", "response_length", "entropy", "kl", "loss"):
            assert resumed[step].get(name) == pytest.approx(straight[step].get(name), rel=1e-4, abs=1e-6), (step, name)


# ---- TRL's GRPOTrainer with our reward ----------------------------------------------------------


def test_trl_grpo_trainer_runs_two_steps_with_our_reward(sft_model, tmp_path):
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig as TRLConfig, GRPOTrainer

    from arborlab.rewards import for_trl

    task = get_task("compare")
    problems = list(task.problems(8, seed=3))
    dataset = Dataset.from_list([{"prompt": task.prompt(p) + "\n", "problem": json.dumps(p)} for p in problems])
    calls = []
    reward = for_trl("compare")

    def recorded(prompts, completions, **kwargs):
        values = reward(prompts, completions, **kwargs)
        calls.append((completions, kwargs["problem"], values))
        return values

    recorded.__name__ = reward.__name__
    args = TRLConfig(output_dir=str(tmp_path / "trl"), per_device_train_batch_size=8, num_generations=4, max_completion_length=12,
                     max_steps=2, use_cpu=True, report_to=[], save_strategy="no", logging_steps=1, learning_rate=1e-3)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(sft_model), reward_funcs=recorded, args=args,
                          train_dataset=dataset, processing_class=AutoTokenizer.from_pretrained(sft_model))
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "reward" in entry]
    assert len(logged) == 2 and len(calls) == 2
    for (completions, problem_column, values), entry in zip(calls, logged):
        verdicts = [float(task.verify(json.loads(p), c).correct) for p, c in zip(problem_column, completions)]
        assert values == verdicts and len(values) == 8
        assert entry["reward"] == pytest.approx(sum(values) / len(values))


# ---- the command line ---------------------------------------------------------------------------


def test_cli_grpo_from_a_config_file_and_bad_settings(sft_model, tmp_path):
    from tests.test_cli import arbor, assert_one_sentence_error

    recipe = tmp_path / "recipe.toml"
    recipe.write_text(f'init = "{sft_model}"\ntask = "compare"\nmax_steps = 2\nprompts_per_step = 2\ngroup_size = 2\n'
                      "max_new_tokens = 12\neval_problems = 4\npool_size = 20\n")
    code, out, err = arbor("train", "grpo", "--config", str(recipe), "--out", str(tmp_path / "run"), "--lr", "1e-3")
    assert code == 0, err
    assert "held-out accuracy" in out and (tmp_path / "run" / "report.html").is_file()
    assert GRPOConfig.from_dict(RunFolder(tmp_path / "run").read_config()).learning_rate == 1e-3
    assert_one_sentence_error(*arbor("train", "grpo", "--config", str(recipe), "--out", str(tmp_path / "run")), "--resume")
    with pytest.raises(ArborError, match=r"unknown GRPO setting\(s\) steps"):
        GRPOConfig.from_dict({"steps": 3})
    with pytest.raises(ArborError, match="loss_aggregation must be one of"):
        train_grpo(grpo_config(sft_model, loss_aggregation="mean"), tmp_path / "r4", show_progress=False)


@pytest.mark.parametrize("setting, value, fragment", [
    ("learning_rate", -1e-4, "learning_rate must be a positive number"),
    ("learning_rate", float("nan"), "learning_rate must be a positive number"),
    ("grad_clip", 0.0, "grad_clip must be a positive number"),
    ("top_p", 0.0, "top_p must be in (0, 1]"),
    ("eval_every", 0, "eval_every must be at least 1"),
    ("checkpoint_every", 0, "checkpoint_every must be at least 1"),
    ("epsilon_high", -0.1, "epsilon_high must be at least 0"),
    ("beta", -1.0, "beta must be at least 0"),
])
def test_bad_grpo_numbers_are_one_sentence(tmp_path, setting, value, fragment):
    """Before: torch's ValueError traceback for the learning rate, ZeroDivisionError mid-run for the intervals."""
    with pytest.raises(ArborError, match=re.escape(fragment)):
        grpo_config(tmp_path / "model", **{setting: value}).check()


def test_the_recipes_are_valid_settings():
    root = Path(__file__).parents[1] / "recipes"
    grpo = GRPOConfig.from_dict(read_toml(root / "countdown-grpo.toml"))
    grpo.check()
    assert grpo.controls == ["random", "negative_only"] and grpo.passk_samples == 256
    assert get_task(grpo.task).difficulty(grpo.difficulty)["n_numbers"] == 3
    sft = SFTConfig.from_dict(read_toml(root / "countdown-sft.toml"))
    assert sft.difficulty == grpo.difficulty and sft.task == grpo.task
