"""SFT from scratch: run folder contents, resume after kill -9, and DDP equal to one process."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from arborlab.errors import ArborError
from arborlab.runs import RunFolder
from arborlab.train.sft import SFTConfig, train_sft

TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2}


def tiny_config(**overrides) -> SFTConfig:
    values = dict(
        task="countdown", style="cot", difficulty={"n_numbers": 2}, n_problems=300, preset="1m", model=TINY,
        batch_size=16, max_steps=30, warmup_steps=5, log_every=5, eval_every=15, eval_problems=8,
        final_eval_problems=10, checkpoint_every=10, max_new_tokens=40,
    )
    values.update(overrides)
    return SFTConfig(**values)


def test_a_run_folder_holds_everything(tmp_path):
    result = train_sft(tiny_config(eval_every=12), tmp_path / "run", show_progress=False)
    run = RunFolder(tmp_path / "run")
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["test_n"] == 10
    model = AutoModelForCausalLM.from_pretrained(run.final)
    tokenizer = AutoTokenizer.from_pretrained(run.final)
    assert model.config.vocab_size == len(tokenizer)
    metrics = run.read_metrics()
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert len(losses) == 6 and losses[-1] < losses[0]
    # evaluations between log steps still say their step
    assert [m["step"] for m in metrics if "val_accuracy" in m] == [12, 24] and "test_accuracy" in metrics[-1]
    assert run.checkpoint_steps() == [10, 20]
    for name in ("config.toml", "loss.png", "accuracy.png", "report.html"):
        assert (run.path / name).is_file()
    assert "data:image/png;base64" in (run.path / "report.html").read_text()
    assert SFTConfig.from_dict(run.read_config()) == tiny_config(eval_every=12, difficulty={"n_numbers": 2, "max_number": 100, "min_target": 10, "max_target": 100, "use_all": True})


def _losses(run_dir):
    return {m["step"]: m["loss"] for m in RunFolder(run_dir).read_metrics() if "loss" in m}


def test_resume_after_kill_continues_the_same_curve(tmp_path):
    config = tiny_config(max_steps=60, checkpoint_every=20, eval_every=1000)
    train_sft(config, tmp_path / "straight", show_progress=False)

    script = (
        "import sys; from tests.test_sft import tiny_config; from arborlab.train.sft import train_sft;"
        "train_sft(tiny_config(max_steps=60, checkpoint_every=20, eval_every=1000), sys.argv[1], show_progress=False)"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "killed")], cwd=Path(__file__).parents[1])
    run = RunFolder(tmp_path / "killed")
    deadline = time.time() + 240
    while not any(step >= 20 for step in run.checkpoint_steps()) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert run.checkpoint_steps() and not run.final.exists()

    train_sft(SFTConfig(), tmp_path / "killed", resume=True, show_progress=False)
    straight, resumed = _losses(tmp_path / "straight"), _losses(tmp_path / "killed")
    assert sorted(resumed) == sorted(straight)
    for step in straight:
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5), step


def test_two_gloo_processes_match_one_process(tmp_path):
    config = tiny_config(max_steps=10, eval_every=1000, checkpoint_every=1000, log_every=1)
    train_sft(config, tmp_path / "one", show_progress=False)
    (tmp_path / "one" / "data").rename(tmp_path / "data")
    script = tmp_path / "ddp.py"
    script.write_text(
        "import sys\nfrom tests.test_sft import tiny_config\nfrom arborlab.train.sft import train_sft\n"
        "config = tiny_config(max_steps=10, eval_every=1000, checkpoint_every=1000, log_every=1, data_dir=sys.argv[2])\n"
        "train_sft(config, sys.argv[1], show_progress=False)\n"
    )
    root = Path(__file__).parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517", str(script),
         str(tmp_path / "two"), str(tmp_path / "data")],
        cwd=root, capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(root), OMP_NUM_THREADS="1"),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert sorted(one) == sorted(two) == list(range(1, 11))
    for step in one:
        assert two[step] == pytest.approx(one[step], rel=1e-4), step


def test_a_time_budget_fixes_the_steps_after_warmup_and_the_cosine_follows_them(tmp_path):
    import math

    config = tiny_config(max_steps=100_000, time_budget=2.0, warmup_steps=15, log_every=1, eval_every=10**6,
                         checkpoint_every=10**6, final_eval_problems=4)
    train_sft(config, tmp_path / "run", show_progress=False)
    run = RunFolder(tmp_path / "run")
    metrics = run.read_metrics()
    fixed = [m for m in metrics if "seconds_per_step" in m]  # the first fit, then any re-fits
    assert fixed[0]["step"] == 15 and all(m["time_budget"] == 2.0 for m in fixed)
    steps = fixed[-1]["max_steps"]
    assert 15 < steps < 100_000 and run.read_config()["max_steps"] == steps  # a resumed run keeps it
    logged = {m["step"]: m["lr"] for m in metrics if "lr" in m}
    assert max(logged) == steps == metrics[-1]["step"]
    for step, lr in logged.items():  # the closed form of linear warmup then cosine decay to 0 at the
        # length in force at that step (a re-fit at step s takes effect at s)
        length = [m["max_steps"] for m in fixed if m["step"] <= step][-1] if step >= 15 else steps
        expected = 3e-3 * (step / 15 if step < 15 else 0.5 * (1 + math.cos(math.pi * (step - 15) / (length - 15))))
        assert lr == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_a_time_budget_is_kept_when_the_pace_changes_during_the_run(monkeypatch):
    """Simulated steps take 10 ms until step 300, then 20 ms (another job starts): the re-fits end
    the run within 2% of the budget, where the warmup's length alone would overrun it by 90%."""
    from types import SimpleNamespace

    from arborlab.train import time_budget

    now = [0.0]
    monkeypatch.setattr(time_budget.time, "perf_counter", lambda: now[0])
    clock = time_budget.StepClock(SimpleNamespace(time_budget=10.0, warmup_steps=15), steps_done=0)
    step, max_steps, spent, fits = 0, 100_000, 0.0, []
    while step < max_steps:
        step += 1
        clock.start()
        now[0] += 0.01 if step <= 300 else 0.02
        spent += 0.01 if step <= 300 else 0.02
        if (fixed := clock.stop(step)) is not None:
            max_steps = fixed["max_steps"]
            fits.append((step, max_steps))
    assert fits[0] == (15, 15 + int((10.0 - 0.15) / 0.01))  # the warmup's pace: 1,000 steps
    assert len(fits) > 1 and abs(spent - 10.0) < 0.2, (fits, spent)
    assert 0.15 + (fits[0][1] - 15) * 0.02 > 15  # without re-fits: far over


def test_time_budget_and_token_budget_are_exclusive(tmp_path):
    with pytest.raises(ArborError, match="time_budget must be at least 0 and not set together with token_budget"):
        train_sft(tiny_config(time_budget=5.0, token_budget=1000), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("setting", ["eval_problems", "final_eval_problems"])
def test_evaluating_no_problems_is_refused_before_any_work(tmp_path, setting):
    with pytest.raises(ArborError, match="eval_problems and final_eval_problems must be at least 1, got .*0"):
        train_sft(tiny_config(**{setting: 0}), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("setting, value, fragment", [
    ("learning_rate", -1.0, "learning_rate must be a positive number"),
    ("learning_rate", float("inf"), "learning_rate must be a positive number"),
    ("batch_size", 0, "batch_size must be at least 1"),
    ("eval_every", 0, "eval_every must be at least 1"),
    ("checkpoint_every", 0, "checkpoint_every must be at least 1"),
    ("warmup_steps", -1, "warmup_steps must be at least 0"),
    ("weight_decay", -0.1, "weight_decay must be at least 0"),
    ("grad_clip", 0.0, "grad_clip must be a positive number"),
    ("style", "optimal", "trace style must be one of"),
    ("preset", "9m", "unknown model preset '9m'"),
    ("model", {"num_layers": 2}, "'num_layers' is not a LlamaConfig setting"),
    ("n_problems", 0, "n_problems must be at least 1"),
])
def test_bad_settings_are_refused_before_the_run_folder_is_written(tmp_path, setting, value, fragment):
    """Each of these crashed mid-run (ZeroDivisionError, torch's ValueError) or failed after the
    run folder and its dataset were written, leaving a run that only --overwrite could replace."""
    with pytest.raises(ArborError, match=re.escape(fragment)):
        train_sft(tiny_config(**{setting: value}), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()


def test_a_run_whose_examples_mostly_exceed_max_length_is_refused(tmp_path):
    """Training on the few short examples that fit would quietly drop the rest of the dataset."""
    with pytest.raises(ArborError, match=r"only \d+ of the \d+ training examples \(.*\) fit in max_length 12 tokens, and their median length"):
        train_sft(tiny_config(max_length=12), tmp_path / "run", show_progress=False)
