"""The packaged studies run end to end at a tiny scale: budgets, held-out splits, resumption, reports."""

import json

import pyarrow.parquet as pq
import pytest

import arborlab.studies.common as common
from arborlab.studies.sos_countdown import SoSStudy, run_sos_study
from arborlab.studies.trace_styles import StylesStudy, run_styles_study

TINY_MODEL = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2}


def test_styles_study_trains_each_style_on_the_same_token_budget(tmp_path):
    study = StylesStudy(styles=("search", "direct"), token_budget=6_000, n_problems=300, model=TINY_MODEL,
                        batch_size=4, warmup_steps=2, eval_problems=4, max_new_tokens=48)
    results = run_styles_study(study, tmp_path, show_progress=False)
    assert [r["style"] for r in results] == ["search", "direct"]
    for r in results:
        # the budget sets the steps from the mean length: within a few batches of the budget
        assert 0.5 * study.token_budget <= r["train_tokens"] <= 1.5 * study.token_budget
        assert 0 <= r["heldout_accuracy"] <= 1 and r["n_harder"] == 4
    # direct traces are shorter, so the same tokens take more steps
    assert results[1]["train_steps"] > results[0]["train_steps"]
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert (tmp_path / "report.html").is_file() and (tmp_path / "styles.png").is_file()
    # a rerun reuses the finished runs and gives the same figures
    assert run_styles_study(study, tmp_path, show_progress=False) == results


def test_sos_study_never_trains_on_unseen_targets(tmp_path, monkeypatch):
    study = SoSStudy(orders=("dfs", "bfs"), minutes=(0.02,), n_problems=400, model=TINY_MODEL, batch_size=4, warmup_steps=2,
                     eval_problems=5, max_new_tokens=48, max_length=1024, calibration_steps=4)
    unseen = set(study.unseen_targets())
    assert len(unseen) == 9  # 10% of the 91 targets 10..100
    results = run_sos_study(study, tmp_path, show_progress=False)
    train_targets = {json.loads(p)["target"] for p in pq.read_table(tmp_path / "data-dfs" / "train.parquet").column("problem").to_pylist()}
    assert train_targets and not train_targets & unseen
    r, bfs = results
    assert r["order"] == "dfs" and r["n_each"] == 5 and r["train_tokens"] > 0
    assert 0 <= r["seen_accuracy"] <= 1 and 0 <= r["unseen_accuracy"] <= 1
    # BFS traces of countdown-4 run to thousands of tokens: the study says so instead of training on the few that fit
    assert bfs["order"] == "bfs" and "fit in max_length 1,024 tokens" in bfs["not_trained"] and "seen_accuracy" not in bfs
    assert json.loads((tmp_path / "results.json").read_text())[1] == bfs
    assert "not trained" in (tmp_path / "report.html").read_text()
    # a rerun resumes: the refusal is remembered rather than found again by tokenizing every trace
    monkeypatch.setattr(common, "train_or_resume", lambda *args, **kwargs: pytest.fail("trained again"))
    assert run_sos_study(study, tmp_path, show_progress=False) == results
    assert (tmp_path / "report.html").is_file() and (tmp_path / "sos.png").is_file()


def test_the_studies_default_generation_fits_their_models_context():
    """Prompt plus max_new_tokens fits the preset's positions, or grading fails after all the training."""
    import random

    from arborlab.models import make_config
    from arborlab.tasks import get_task
    from arborlab.tokenizer import build_tokenizer

    task = get_task("countdown")
    for study in (SoSStudy(), StylesStudy()):
        difficulty = task.difficulty(study.difficulty)
        prompts = [task.prompt(task.generate(random.Random(i), difficulty)) for i in range(50)]
        tokenizer = build_tokenizer(prompts)
        longest = max(len(tokenizer(p)["input_ids"]) for p in prompts)
        context = make_config(study.preset, len(tokenizer), **study.model).max_position_embeddings
        assert longest + study.max_new_tokens <= context, type(study).__name__


@pytest.mark.parametrize("run, study", [
    (run_styles_study, StylesStudy(preset="9m")),
    (run_styles_study, StylesStudy(model={"num_layers": 2})),
    (run_sos_study, SoSStudy(preset="9m")),
])
def test_a_bad_model_setting_is_one_sentence_before_any_data(tmp_path, run, study):
    """Before, the sos study made its countdown-4 dataset (minutes) and then failed on the preset."""
    from arborlab.errors import ArborError

    with pytest.raises(ArborError, match="unknown model preset '9m'|'num_layers' is not a LlamaConfig setting"):
        run(study, tmp_path / "study", show_progress=False)
    assert not (tmp_path / "study").exists()
