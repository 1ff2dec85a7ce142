"""Drill sheets: the training traces' own equations, with the loss on their results only."""

import random

from arborlab.tasks import get_task
from arborlab.tokenizer import build_tokenizer
from arborlab.train.batches import IGNORE, collate
from arborlab.train.drill import drill_examples, trace_equations


def _traces(n=30):
    task = get_task("countdown")
    problems = list(task.problems(n, seed=1, difficulty={"n_numbers": 3}))
    return task, problems, [task.trace(p, "search") for p in problems]


def test_trace_equations_are_every_step_equation_and_all_true():
    task, problems, traces = _traces()
    equations = trace_equations(traces)
    step_lines = [line for trace in traces for line in trace.splitlines() if "=" in line and "left" in line]
    assert len(equations) == len(step_lines) > 50
    for left, result in equations:
        a, op, b = left[:-1].replace("+", " + ").replace("-", " - ").replace("*", " * ").replace("/", " / ").split()
        exact = {"+": lambda: int(a) + int(b), "-": lambda: int(a) - int(b), "*": lambda: int(a) * int(b), "/": lambda: int(a) / int(b)}[op]()
        assert exact == int(result)
    assert trace_equations(["12+3=15, left 15\n7*8=56", "no numbers", "1.5+2=3.5"]) == [("12+3=", "15"), ("7*8=", "56")]


def test_sheets_put_the_loss_on_results_and_newlines_only():
    task, problems, traces = _traces()
    tokenizer = build_tokenizer(task.prompt(p) + "\n" + t for p, t in zip(problems, traces))
    equations = trace_equations(traces)
    sheets = drill_examples(tokenizer, equations, n_sheets=3, per_sheet=5, seed=0)
    assert len(sheets) == 3 and drill_examples(tokenizer, equations, 3, 5, 0) == sheets  # seeded
    batch = collate(sheets, tokenizer.pad_token_id)
    for row, sheet in enumerate(sheets):
        text = tokenizer.decode(sheet.ids, skip_special_tokens=True)
        lines = text.strip().split("\n")
        assert len(lines) == 5
        assert {(line.split("=")[0] + "=", line.split("=")[1]) for line in lines} <= set(equations)
        targets = [i for i in batch["labels"][row].tolist() if i != IGNORE]
        assert tokenizer.decode(targets).split("\n")[:-1] == [line.split("=")[1] for line in lines]
    assert drill_examples(tokenizer, [], 3, 5, 0) == []


def test_sft_with_drill_sheets_trains_and_keeps_its_config(tmp_path):
    from arborlab.train.sft import SFTConfig, train_sft

    config = SFTConfig(task="countdown", difficulty={"n_numbers": 3}, n_problems=120, preset="1m", drill_share=0.3,
                       model={"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2},
                       batch_size=8, max_steps=6, warmup_steps=1, log_every=3, eval_every=100, eval_problems=2,
                       final_eval_problems=2, checkpoint_every=100, max_new_tokens=8)
    result = train_sft(config, tmp_path / "run", show_progress=False)
    assert result["test_n"] == 2
    assert "drill_share = 0.3" in (tmp_path / "run" / "config.toml").read_text()


def test_a_drill_share_of_one_or_more_is_refused_before_any_work(tmp_path):
    import pytest

    from arborlab.errors import ArborError
    from arborlab.train.sft import SFTConfig, train_sft

    with pytest.raises(ArborError, match="drill_share must be in"):
        train_sft(SFTConfig(drill_share=1.0), tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()
