"""`arbor sample` (every back end) and `arbor eval` on a tiny random model saved with the task tokenizer."""

import importlib.util
import json
import sys
from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from arborlab import sample_vllm
from arborlab.errors import ArborError
from arborlab.models import load_model
from arborlab.sample import sample
from arborlab.score import score_lines
from arborlab.tasks import get_task
from arborlab.tokenizer import build_tokenizer
from tests.test_cli import arbor, assert_one_sentence_error


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    task = get_task("countdown")
    texts = [task.prompt(p) + "\n" + task.trace(p, "search") for p in task.problems(50, difficulty={"n_numbers": 3})]
    tokenizer = build_tokenizer(texts)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    folder = tmp_path_factory.mktemp("model")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_sample_writes_one_line_per_sample(model_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("numbers 3 5 7 target 22\nnumbers 10 2 4 target 40\n")
    code, _, err = arbor("sample", str(model_dir), "--prompts", str(prompts), "--n", "3", "--temperature", "1",
                         "--max-new-tokens", "6", "--out", str(tmp_path / "s.jsonl"))
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and {r["prompt"] for r in rows} == set(prompts.read_text().split("\n")[:2])
    for row in rows:
        assert len(row["tokens"]) == len(row["logprobs"]) <= 6
        assert all(lp <= 0 for lp in row["logprobs"])


@pytest.mark.parametrize("arguments, fragment", [
    (["--n", "0"], "samples per prompt must be at least 1"),
    (["--top-p", "0"], "top_p must be in (0, 1]"),
    (["--max-new-tokens", "5000"], "exceeds the model's context"),
])
def test_sample_bad_input_is_one_sentence_and_writes_nothing(model_dir, tmp_path, arguments, fragment):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("numbers 3 5 7 target 22\n")
    out = tmp_path / "s.jsonl"
    assert_one_sentence_error(*arbor("sample", str(model_dir), "--prompts", str(prompts), *arguments, "--out", str(out)), fragment)
    assert not out.exists() and not (tmp_path / "s.jsonl.partial").exists()


def test_an_interrupted_eval_resumes_without_sampling_again(model_dir, tmp_path, monkeypatch):
    """Killed after two of its three sampled batches, the rerun samples only the third, and its
    figures and predictions equal a straight run's."""
    from arborlab import completions
    from arborlab.evaluate import run_eval

    settings = dict(model_dir=model_dir, task_name="countdown", n_problems=40, samples=4, ks=[1, 4], temperature=None, data=None,
                    split="test", difficulty={"n_numbers": 3}, max_new_tokens=8, seed=0)
    straight = run_eval(out=tmp_path / "straight", **settings)
    calls, real_sample = [], completions.sample

    def killed_after_two(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        return real_sample(*args, **kwargs)

    monkeypatch.setattr(completions, "sample", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        run_eval(out=tmp_path / "run", **settings)
    assert (tmp_path / "run.partial").is_dir() and not (tmp_path / "run").exists()
    calls.clear()
    monkeypatch.setattr(completions, "sample", lambda *args, **kwargs: calls.append(1) or real_sample(*args, **kwargs))
    resumed = run_eval(out=tmp_path / "run", **settings)
    assert len(calls) == 1  # 160 requests in batches of 64
    assert {k: v for k, v in resumed.items() if k != "out"} == {k: v for k, v in straight.items() if k != "out"}
    assert (tmp_path / "run" / "predictions.jsonl").read_text() == (tmp_path / "straight" / "predictions.jsonl").read_text()
    assert not (tmp_path / "run.partial").exists()


def test_completions_refuse_bad_arguments_before_sampling_anything(model_dir, monkeypatch):
    from arborlab import completions

    model, tokenizer = load_model(model_dir)
    monkeypatch.setattr(completions, "sample", lambda *args, **kwargs: pytest.fail("sampled before refusing"))
    for settings in (dict(samples=0), dict(top_p=0.0), dict(max_new_tokens=0), dict(temperature=-1.0)):
        with pytest.raises(ArborError):
            completions.complete(model, tokenizer, ["numbers 3 5 7 target 22"] * 3, **settings)


def test_eval_writes_figures_that_rescore(model_dir, tmp_path):
    out = tmp_path / "eval"
    code, stdout, err = arbor("eval", str(model_dir), "--task", "countdown", "--problems", "5", "--samples", "4",
                              "--k", "1,2,4", "-d", "n_numbers=3", "--max-new-tokens", "6", "--out", str(out))
    assert code == 0, err
    report = json.loads((out / "eval.json").read_text())
    assert report["n"] == 5 and {"pass@1", "pass@2", "pass@4", "maj@4"} <= set(report)
    assert report["pass@1"] <= report["pass@2"] <= report["pass@4"]
    with open(out / "predictions.jsonl") as stream:
        verdicts = list(score_lines(get_task("countdown"), stream))
    assert len(verdicts) == 20
    assert report["accuracy"] == pytest.approx(sum(v["correct"] for v in verdicts) / 20)
    assert (out / "pass_at_k.png").stat().st_size > 1000


def test_eval_against_a_baseline_grades_both_on_the_same_problems(model_dir, tmp_path):
    out = tmp_path / "eval"
    code, stdout, err = arbor("eval", str(model_dir), "--task", "countdown", "--problems", "4", "--samples", "3", "--k", "1,3",
                              "-d", "n_numbers=3", "--max-new-tokens", "12", "--temperature", "2", "--out", str(out),
                              "--baseline", str(model_dir))
    assert code == 0, err
    report = json.loads((out / "eval.json").read_text())
    baseline = report["baseline"]
    rows = {name: [json.loads(line) for line in (out / name).read_text().splitlines()]
            for name in ("predictions.jsonl", "baseline_predictions.jsonl")}
    assert [r["problem"] for r in rows["predictions.jsonl"]] == [r["problem"] for r in rows["baseline_predictions.jsonl"]]
    # the same model with the same seed: the same samples, so the same figures
    assert rows["predictions.jsonl"] == rows["baseline_predictions.jsonl"]
    assert {k: report[k] for k in ("accuracy", "pass@1", "pass@3")} == {k: baseline[k] for k in ("accuracy", "pass@1", "pass@3")}
    assert baseline["model_dir"] == str(model_dir) and "baseline: countdown" in stdout


def test_eval_bad_input_is_one_sentence(model_dir, tmp_path):
    assert_one_sentence_error(*arbor("eval", str(model_dir), "--task", "countdown", "--samples", "2", "--k", "8"), "pass@8 needs")
    assert_one_sentence_error(*arbor("eval", str(tmp_path), "--task", "countdown"))
    assert_one_sentence_error(*arbor("eval", str(model_dir), "--task", "countdown", "--k", "x"), "--k takes")
    assert_one_sentence_error(*arbor("eval", str(model_dir), "--task", "countdown", "--baseline", str(tmp_path)))


vllm_installed = importlib.util.find_spec("vllm") is not None


@pytest.mark.skipif(vllm_installed, reason="vllm is installed here")
def test_the_vllm_back_end_without_vllm_is_one_sentence(model_dir, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("numbers 3 5 7 target 22\n")
    assert_one_sentence_error(*arbor("sample", str(model_dir), "--prompts", str(prompts), "--backend", "vllm",
                                     "--out", str(tmp_path / "s.jsonl")), "needs the vllm package", "arborlab[vllm]")
    assert not (tmp_path / "s.jsonl").exists()


class _StandInLLM:
    """What `arborlab.sample_vllm` uses of ``vllm.LLM``, done by our own sampler on the folder's
    model, reading the arguments as vLLM documents them: it checks how the back end maps `sample`'s
    arguments to vLLM's (stop ids and strings, one seed a row) and vLLM's results back."""

    built = []

    def __init__(self, model, tokenizer, seed):
        self.model, self.tokenizer = load_model(model)
        _StandInLLM.built.append(model)

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, prompts, params, use_tqdm):
        outputs = []
        for prompt, p in zip(prompts, params):
            assert p.n == 1 and p.logprobs == 0 and p.include_stop_str_in_output and not p.skip_special_tokens
            stops = [self.tokenizer(text, add_special_tokens=False)["input_ids"] for text in p.stop or []]
            [done] = sample(self.model, [prompt["prompt_token_ids"]], p.max_tokens, temperature=p.temperature, top_p=p.top_p,
                            stop_ids=p.stop_token_ids, stop_sequences=stops, seed=p.seed)
            logprobs = [{token: SimpleNamespace(logprob=value), -1: SimpleNamespace(logprob=0.0)}
                        for token, value in zip(done.tokens, done.logprobs)]
            outputs.append(SimpleNamespace(outputs=[SimpleNamespace(token_ids=tuple(done.tokens), logprobs=logprobs,
                                                                    finish_reason=done.finish_reason)]))
        return outputs


def test_the_vllm_back_end_maps_arguments_and_results(model_dir, monkeypatch):
    """Through a stand-in for vLLM: greedy completions equal the arbor back end's, with the same
    stop rules (a two-token stop sequence goes as a string and still ends the tokens), and
    repeated prompts get seeds of their own."""
    monkeypatch.setitem(sys.modules, "vllm", SimpleNamespace(LLM=_StandInLLM, SamplingParams=SimpleNamespace))
    monkeypatch.setattr(sample_vllm, "_engines", {})
    model, tokenizer = load_model(model_dir)
    prompts = [tokenizer("numbers 3 5 7 target 22\n")["input_ids"], tokenizer("numbers 10 2 4 target 40\n")["input_ids"]]
    arbor_greedy = sample(model, prompts, 12, temperature=0)
    stop = [arbor_greedy[0].tokens[3], arbor_greedy[0].tokens[4]]  # ends the first completion after 5 tokens
    for stop_sequences in ((), [stop]):
        ours = sample(model, prompts, 12, temperature=0, stop_sequences=stop_sequences)
        theirs = sample(model, prompts, 12, temperature=0, stop_sequences=stop_sequences, backend="vllm")
        assert [(c.tokens, c.finish_reason) for c in theirs] == [(c.tokens, c.finish_reason) for c in ours]
        assert [lp for c in theirs for lp in c.logprobs] == pytest.approx([lp for c in ours for lp in c.logprobs])
    assert theirs[0].tokens == arbor_greedy[0].tokens[:5] and theirs[0].finish_reason == "stop"
    drawn = sample(model, [prompts[0]] * 6, 8, temperature=1.0, seed=3, backend="vllm")
    assert len({tuple(c.tokens) for c in drawn}) > 1  # not six copies of one draw
    assert _StandInLLM.built == [str(model_dir.resolve())]  # one engine for the folder, built once
    with pytest.raises(ArborError, match="not loaded from a local folder"):
        sample(LlamaForCausalLM(LlamaConfig.from_dict({**model.config.to_dict(), "_name_or_path": ""})), prompts, 4,
               backend="vllm")


@pytest.mark.skipif(not vllm_installed, reason="vllm is not installed here (an optional extra)")
def test_vllm_greedy_equals_hf_generate(model_dir):
    model, tokenizer = load_model(model_dir)
    prompts = [tokenizer("numbers 3 5 7 target 22\n")["input_ids"], tokenizer("numbers 10 2 4 target 40\n")["input_ids"]]
    hf = [c.tokens for c in sample(model, [prompts[0]], 16, temperature=0, backend="hf")]
    hf += [c.tokens for c in sample(model, [prompts[1]], 16, temperature=0, backend="hf")]
    assert [c.tokens for c in sample(model, prompts, 16, temperature=0, backend="vllm")] == hf
