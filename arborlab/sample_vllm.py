"""The vLLM back end of `arborlab.sample.sample`: the same arguments and `Completion`s, decoded by vLLM.

Optional: ``pip install 'arborlab[vllm]'`` where vLLM runs (a CUDA GPU, or vLLM's own CPU build).
vLLM pins its own torch build, so it is never installed by default; without it this back end
refuses in one sentence. vLLM loads the weights itself, from the folder the model was loaded from,
and keeps one engine per folder for the life of the process.

How the arguments map: stop ids become ``stop_token_ids``; a one-token stop sequence is a stop
id; a longer one becomes a stop string (its text, special tokens kept), and the tokens are cut
after the sequence's first occurrence, so a completion still ends with its stop tokens. Each prompt
gets its own seed (``seed + row``), so repeated prompts are sampled independently. ``logprobs``
are vLLM's own for the chosen tokens: by default its raw distribution, before temperature, where
the arbor and hf back ends return log-softmax(logits / temperature).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from arborlab.errors import ArborError

_engines: dict[str, object] = {}  # folder -> vllm.LLM, built once (minutes on a big model)


def vllm_module():
    """The vllm package, or one sentence saying it is not installed."""
    try:
        import vllm
    except ImportError:
        raise ArborError(
            "the vllm back end needs the vllm package, which is not installed here; install it with "
            "pip install 'arborlab[vllm]' on a machine vLLM supports, or use --backend arbor."
        ) from None
    return vllm


def _engine(vllm, model):
    """The vLLM engine for the folder `model` was loaded from."""
    folder = Path(str(getattr(model, "name_or_path", "") or ""))
    if not (folder / "config.json").is_file():
        raise ArborError("the vllm back end loads the model from its folder, and this model was not loaded from a local folder.")
    key = str(folder.resolve())
    if key not in _engines:
        _engines[key] = vllm.LLM(model=key, tokenizer=key, seed=0)
    return _engines[key]


def generate_vllm(model, prompts: Sequence[Sequence[int]], max_new_tokens: int, temperature: float, top_p: float,
                  stop_ids: Sequence[int], stop_sequences: Sequence[Sequence[int]], seed: int | None):
    """One `Completion` per prompt (token ids), sampled by vLLM; the arguments are `sample`'s."""
    from arborlab.sample import Completion

    vllm = vllm_module()
    engine = _engine(vllm, model)
    decode = engine.get_tokenizer().decode
    single = {sequence[0] for sequence in stop_sequences if len(sequence) == 1}
    longer = [list(sequence) for sequence in stop_sequences if len(sequence) > 1]
    settings = dict(
        n=1, temperature=temperature, top_p=top_p, max_tokens=max_new_tokens,
        stop_token_ids=sorted(set(stop_ids) | single), stop=[decode(sequence, skip_special_tokens=False) for sequence in longer] or None,
        include_stop_str_in_output=True, skip_special_tokens=False, logprobs=0,
    )
    params = [vllm.SamplingParams(**settings, seed=None if seed is None else seed + row) for row in range(len(prompts))]
    outputs = engine.generate([{"prompt_token_ids": list(prompt)} for prompt in prompts], params, use_tqdm=False)
    completions = []
    for output in outputs:
        written = output.outputs[0]
        tokens = list(written.token_ids)
        logprobs = [step[token].logprob for step, token in zip(written.logprobs or [], tokens)]
        end = _end_of_first(tokens, longer)
        stopped = written.finish_reason == "stop" or end is not None
        if end is not None:
            tokens, logprobs = tokens[:end], logprobs[:end]
        completions.append(Completion(tokens, logprobs, "stop" if stopped else "length"))
    return completions


def _end_of_first(tokens: Sequence[int], sequences: Sequence[Sequence[int]]) -> int | None:
    """The index just past the earliest occurrence of any of `sequences` in `tokens`, or None."""
    ends = [start + len(sequence) for sequence in sequences for start in range(len(tokens) - len(sequence) + 1)
            if list(tokens[start: start + len(sequence)]) == list(sequence)]
    return min(ends, default=None)
