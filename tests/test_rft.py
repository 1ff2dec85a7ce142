"""RFT / STaR: only verified completions are kept, fine-tuning fits them, and a run resumes by round."""

import shutil

import pytest

from arborlab.errors import ArborError

from arborlab.models import load_model
from arborlab.runs import RunFolder
from arborlab.tasks import get_task
from arborlab.train.batches import collate, encode_example
from arborlab.train.rft import RFTConfig, collect, fine_tune, train_rft
from arborlab.train.sft import completion_loss
from tests.test_grpo import toy_model


@pytest.fixture(scope="session")
def rft_model(tmp_path_factory):
    return toy_model(tmp_path_factory.getbasetemp())


def rft_config(init, **overrides) -> RFTConfig:
    values = dict(init=str(init), task="compare", rounds=2, problems_per_round=24, pool_size=60, samples=4, max_new_tokens=12,
                  rationalize=True, steps_per_round=6, batch_size=8, learning_rate=1e-3, eval_problems=12)
    values.update(overrides)
    return RFTConfig(**values)


def test_collect_keeps_only_verified_completions_under_the_plain_prompt(rft_model):
    model, tokenizer = load_model(rft_model)
    task = get_task("compare")
    problems = list(task.problems(24, seed=4))
    config = rft_config(rft_model, samples=6, keep_per_problem=2)
    kept, record = collect(model, tokenizer, task, problems, config, round_=1)
    by_prompt = {task.prompt(p): p for p in problems}
    assert kept and record["kept"] == len(kept)
    for prompt, completion in kept:
        assert prompt in by_prompt and task.verify(by_prompt[prompt], completion).correct
    assert max(sum(p == prompt for p, _ in kept) for prompt in by_prompt) <= 2 * 2  # sampled + rationalized
    assert 0 <= record["rationalized"] <= round((1 - record["solved_share"]) * len(problems))


def test_fine_tuning_lowers_the_loss_on_kept_examples(rft_model):
    model, tokenizer = load_model(rft_model)
    task = get_task("compare")
    kept = [(task.prompt(p), task.trace(p, "direct")) for p in task.problems(16, seed=9)]
    batch = collate([encode_example(tokenizer, prompt, completion) for prompt, completion in kept], tokenizer.pad_token_id)
    before = completion_loss(model, batch, bf16=False, world=1)[0].item()
    fine_tune(model, tokenizer, kept, rft_config(rft_model, steps_per_round=40, batch_size=16), round_=1)
    after = completion_loss(model, batch, bf16=False, world=1)[0].item()
    assert after < 0.6 * before


def test_a_run_folder_and_resume_by_round(rft_model, tmp_path):
    summary = train_rft(rft_config(rft_model), tmp_path / "straight", show_progress=False)
    run = RunFolder(tmp_path / "straight")
    rounds = [m for m in run.read_metrics() if "kept" in m]
    assert [m["step"] for m in rounds] == [1, 2] and len(summary["heldout_by_round"]) == 3
    assert run.checkpoint_steps() == [1, 2] and (run.final / "model.safetensors").is_file()
    for name in ("config.toml", "metrics.png", "report.html", "summary.json"):
        assert (run.path / name).is_file()

    # The state a kill after round 1's checkpoint leaves behind: no round-2 checkpoint, no final model.
    shutil.copytree(tmp_path / "straight", tmp_path / "killed")
    killed = RunFolder(tmp_path / "killed")
    for leftover in (killed.checkpoint(2), killed.final):
        shutil.rmtree(leftover)
    (killed.path / "summary.json").unlink()
    resumed = train_rft(RFTConfig(), killed.path, resume=True, show_progress=False)
    assert resumed["heldout_by_round"] == summary["heldout_by_round"]
    again = [m for m in killed.read_metrics() if "kept" in m]
    for new, old in zip(again, rounds):
        assert {k: v for k, v in new.items() if k != "seconds"} == pytest.approx({k: v for k, v in old.items() if k != "seconds"})


def test_bad_rft_settings_are_one_sentence(rft_model, tmp_path):
    with pytest.raises(ArborError, match="must be at least 1"):
        train_rft(rft_config(rft_model, rounds=0), tmp_path / "run", show_progress=False)
    with pytest.raises(ArborError, match="needs a model"):
        train_rft(RFTConfig(), tmp_path / "run", show_progress=False)
    with pytest.raises(ArborError, match="learning_rate must be a positive number, got -0.001"):
        train_rft(rft_config(rft_model, learning_rate=-1e-3), tmp_path / "run", show_progress=False)
    with pytest.raises(ArborError, match="grad_clip must be a positive number"):
        train_rft(rft_config(rft_model, grad_clip=0.0), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()
    with pytest.raises(ArborError, match=r"unknown RFT setting\(s\) round"):
        RFTConfig.from_dict({"round": 2})
