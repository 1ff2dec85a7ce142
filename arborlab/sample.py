"""Batched sampling with a KV cache from any Hugging Face causal LM, fast on CPU for tiny models.

``sample(model, prompts, max_new_tokens, ...)`` returns one `Completion` per prompt. Back ends:

* ``"arbor"`` (default): our own decoding loop. The prompts go through the model's own forward
  (left-padded, with position ids from the attention mask, exactly as ``generate`` builds them);
  then each step feeds one token per row. Llama and Qwen2 models with SDPA attention take a fast
  path: the decoder layers are written out with the same torch calls transformers makes, over a
  KV cache allocated ahead in chunks, with none of the per-step mask building, cache
  concatenation and module plumbing of ``generate``. Every other model runs its own forward with a ``DynamicCache``.
  Rows that finish are dropped from the batch, so the batch shrinks as sequences end.
* ``"hf"``: transformers' ``generate`` with the same stopping rules (the reference in the tests).
* ``"vllm"``: vLLM, where it is installed (an optional extra; see `arborlab.sample_vllm`).

Exactness: at temperature 0 the arbor back end returns exactly the tokens of
``generate(do_sample=False)`` run on the SAME batch. It runs the same kernels on the same shapes,
so the logits are bit-identical, not merely close. (Compare like with like: left-padded batched
decoding rounds differently from decoding each prompt alone, in transformers too.) One caveat:
dropping finished rows changes the shapes, and some kernels round differently at other batch
sizes: MKL's matrix products below 4 rows, and, with more than one thread, PyTorch's CPU
attention kernel at many sizes. The batch is never shrunk below 4 rows, which keeps
single-threaded CPU runs bit-identical; with more threads a shrunk batch can differ from
``generate`` in the last bits of the logits, which changes a greedy token only at a near-exact
tie. Use ``backend="hf"`` where bit-identity with transformers matters.

A `PrefixCache` passed to ``sample`` lets a later call continue this call's completions without
re-reading them (step-wise search does this every round), feeding a prompt it repeats once. Their
keys and values then come from decoding steps, not a prefill, so such a call matches an
uninterrupted run of the same rows rather than ``generate`` on the longer prompts.

Only the arguments decide how tokens are chosen: a model's ``generation_config`` (top-k,
repetition penalty …) is ignored, and dropout is never applied.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F
from transformers import DynamicCache, StoppingCriteria, StoppingCriteriaList
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from arborlab.errors import ArborError

BACKENDS = ("arbor", "hf", "vllm")
_FAST_MODEL_TYPES = ("llama", "qwen2")
_MIN_ROWS = 4  # never shrink the batch below this (see "Exactness" above)
_GROWTH = 16  # positions a KV-cache buffer holds beyond its filled ones, at least, when (re)allocated


@dataclass
class Completion:
    """One sampled continuation of one prompt.

    tokens: the new token ids; when a stop id or stop sequence ended the completion, it is
        included, so the text shows how it ended and a trainer can teach the model to stop.
    logprobs: one per token: log-softmax(logits / temperature) of the chosen token, i.e. the raw
        model's distribution at the sampling temperature, before top-p truncation (what GRPO's
        importance ratios need); at temperature 0, log-softmax(logits).
    finish_reason: "stop" (a stop id or stop sequence) or "length" (max_new_tokens reached).
    """

    tokens: list[int]
    logprobs: list[float]
    finish_reason: str


def sample(
    model,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int,
    *,
    temperature: float = 1.0,
    top_p: float = 1.0,
    stop_ids: Sequence[int] | None = None,
    stop_sequences: Sequence[Sequence[int]] = (),
    seed: int | None = None,
    backend: str = "arbor",
    prefix_cache: PrefixCache | None = None,
) -> list[Completion]:
    """Continue each prompt (a list of token ids) by up to `max_new_tokens` tokens.

    temperature: 0 is greedy decoding. top_p: nucleus sampling; keeps the fewest most likely tokens
    whose probabilities sum to at least `top_p`. stop_ids: token ids that end a completion; None
    means the model's eos ids, ``()`` none. stop_sequences: token-id sequences that end a
    completion, e.g. the ids of ``"</answer>"``. seed: makes sampling reproducible (the arbor back
    end draws from its own generator; the hf back end seeds torch's global one). prefix_cache: a
    `PrefixCache` that keeps this call's keys and values for a later call continuing its
    completions (arbor back end, fast decoder only; ignored otherwise).
    """
    check_arguments(model, prompts, max_new_tokens, temperature, top_p, stop_sequences, backend)
    if not prompts:
        return []
    stop_ids = _default_stop_ids(model) if stop_ids is None else stop_ids
    if backend == "vllm":
        from arborlab.sample_vllm import generate_vllm

        return generate_vllm(model, prompts, max_new_tokens, temperature, top_p, stop_ids, stop_sequences, seed)
    stop = _StopRule(stop_ids, stop_sequences, model.device)
    input_ids, attention_mask = _left_pad(prompts, _pad_id(model), model.device)
    with torch.inference_mode(), _eval_mode(model):
        if backend == "hf":
            tokens, logprobs, ends, stopped = _generate_hf(
                model, input_ids, attention_mask, max_new_tokens, temperature, top_p, stop, seed
            )
        else:
            generator = None if seed is None else torch.Generator(model.device).manual_seed(seed)
            tokens, logprobs, ends, stopped = _generate_arbor(
                model, input_ids, attention_mask, max_new_tokens, temperature, top_p, stop, generator, prompts, prefix_cache
            )
    token_rows, logprob_rows = tokens.tolist(), logprobs.tolist()  # one conversion, not two per row
    return [
        Completion(token_rows[i][:end], logprob_rows[i][:end], "stop" if hit else "length")
        for i, (end, hit) in enumerate(zip(ends.tolist(), stopped.tolist()))
    ]


@contextmanager
def _eval_mode(model):
    """Run the block with `model` in eval mode (no dropout), then restore its mode."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def check_arguments(model, prompts, max_new_tokens, temperature=1.0, top_p=1.0, stop_sequences=(), backend="arbor") -> None:
    """Refuse, with one sentence, what `sample` would refuse: callers that batch many calls check first."""
    if backend not in BACKENDS:
        raise ArborError(f"unknown sampling back end '{backend}'; choose one of {', '.join(BACKENDS)}.")
    if max_new_tokens < 1:
        raise ArborError(f"max_new_tokens must be at least 1, got {max_new_tokens}.")
    if temperature < 0:
        raise ArborError(f"temperature must be 0 (greedy) or positive, got {temperature}.")
    if not 0 < top_p <= 1:
        raise ArborError(f"top_p must be in (0, 1], got {top_p}.")
    if any(len(sequence) == 0 for sequence in stop_sequences):
        raise ArborError("a stop sequence must hold at least one token id.")
    config = model.config.get_text_config()
    for number, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ArborError(f"prompt {number} is empty; every prompt needs at least one token.")
        if min(prompt) < 0 or max(prompt) >= config.vocab_size:
            raise ArborError(f"prompt {number} holds a token id outside the model's vocabulary of {config.vocab_size}.")
    context = getattr(config, "max_position_embeddings", None)
    longest = max((len(prompt) for prompt in prompts), default=0)
    if context is not None and longest + max_new_tokens > context:
        raise ArborError(
            f"a prompt of {longest} tokens plus max_new_tokens={max_new_tokens} exceeds "
            f"the model's context of {context} positions."
        )


def _default_stop_ids(model) -> list[int]:
    """The model's eos ids, from its generation config or else its config."""
    generation_config = getattr(model, "generation_config", None)
    eos = getattr(generation_config, "eos_token_id", None)
    if eos is None:
        eos = model.config.get_text_config().eos_token_id
    if eos is None:
        return []
    return [eos] if isinstance(eos, int) else list(eos)


def _pad_id(model) -> int:
    """The id to left-pad prompts with; padding is masked out, so any valid id would do."""
    for config in (getattr(model, "generation_config", None), model.config.get_text_config()):
        for name in ("pad_token_id", "eos_token_id"):
            value = getattr(config, name, None)
            if value is not None:
                return value if isinstance(value, int) else value[0]
    return 0


def _left_pad(prompts, pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Prompts as ``input_ids`` and ``attention_mask``, both [batch, longest prompt], padded on the left."""
    lengths = torch.tensor([len(prompt) for prompt in prompts])
    width = int(lengths.max())
    # every token's (row, column), right-aligned, written with one indexed copy instead of one per row
    row = torch.repeat_interleave(torch.arange(len(prompts)), lengths)
    column = torch.arange(int(lengths.sum())) - torch.repeat_interleave(lengths.cumsum(0) - width, lengths)
    input_ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
    input_ids[row, column] = torch.tensor([token for prompt in prompts for token in prompt], dtype=torch.long)
    attention_mask[row, column] = 1
    return input_ids.to(device), attention_mask.to(device)


class _CacheEntry(NamedTuple):
    """Where one finished row's keys and values lie: positions start..end-1 of batch row `row` in
    per-layer buffers [batch, kv_heads, capacity, head_dim] (a decoder's, never written there again)."""

    keys: list
    values: list
    row: int
    start: int
    end: int


class PrefixCache:
    """Keys and values of the rows of recent `sample` calls, for calls that continue them.

    After a call given this cache, each completion's ids (prompt + new tokens) map to the keys and
    values of all of them but the last token (chosen, never read). A later call whose every prompt
    is such an entry reads only each prompt's last token instead of prefilling the whole prompt:
    step-wise search continues last round's lines this way, re-reading nothing. Entries are views
    of the decoders' buffers. The `calls` most recent calls are kept, fewer when their buffers
    exceed `max_bytes` (the newest is always kept). The keys and values of read tokens come from
    decoding steps rather than a prefill, so the logits can differ from a fresh prefill's in the
    last bits (and match an uninterrupted run's).
    """

    def __init__(self, calls: int = 4, max_bytes: int = 1 << 30):
        self.calls, self.max_bytes = calls, max_bytes
        self._recent: list[tuple[dict, int]] = []  # ({ids: _CacheEntry}, bytes held), newest last
        self.resumed_calls = 0  # calls that skipped their prefill

    def get(self, ids: Sequence[int]) -> _CacheEntry | None:
        key = tuple(ids)
        for entries, _ in reversed(self._recent):
            if key in entries:
                return entries[key]
        return None

    def alias(self, prefix: Sequence[int], ids: Sequence[int]) -> bool:
        """Make `prefix`, a prefix of the cached `ids` (at least 2 tokens), an entry too, over the
        first of `ids`' keys and values (MCTS continues from the first step of a rollout). Returns
        whether `ids` was cached."""
        prefix = tuple(prefix)
        if len(prefix) < 2 or tuple(ids[: len(prefix)]) != prefix:
            raise ValueError("alias: the prefix must hold at least 2 tokens and begin the cached ids")
        key = tuple(ids)
        for entries, _ in reversed(self._recent):
            entry = entries.get(key)
            if entry is not None:
                entries.setdefault(prefix, entry._replace(end=entry.start + len(prefix) - 1))
                return True
        return False

    def add(self, entries: dict) -> None:
        if self.calls <= 0:
            return
        buffers = {id(tensor): tensor for entry in entries.values() for tensor in (*entry.keys, *entry.values)}
        held = sum(tensor.numel() * tensor.element_size() for tensor in buffers.values())
        self._recent = [*self._recent, (entries, held)][-self.calls:]
        while len(self._recent) > 1 and sum(size for _, size in self._recent) > self.max_bytes:
            self._recent.pop(0)

    def clear(self) -> None:
        self._recent = []


class _StopRule:
    """Decides which rows a newly generated token ends.

    A stop sequence of one token is a stop id. Longer ones are matched against the last tokens
    written to the generated-token buffer.
    """

    def __init__(self, stop_ids: Sequence[int], stop_sequences: Sequence[Sequence[int]], device):
        single = [sequence[0] for sequence in stop_sequences if len(sequence) == 1]
        self.ids = torch.tensor(sorted(set(stop_ids) | set(single)), dtype=torch.long, device=device)
        self.sequences = [
            torch.tensor(sequence, dtype=torch.long, device=device) for sequence in stop_sequences if len(sequence) > 1
        ]

    def hits(self, generated: torch.Tensor, rows: torch.Tensor, step: int) -> torch.Tensor:
        """Which of `rows` end at `step`. generated: [prompts, max_new_tokens]; rows: [batch] → [batch] bool."""
        hit = torch.isin(generated[rows, step], self.ids)
        for sequence in self.sequences:
            if step + 1 >= len(sequence):
                recent = generated[rows, step + 1 - len(sequence): step + 1]
                hit |= (recent == sequence).all(-1)
        return hit


def _choose(logits: torch.Tensor, temperature: float, top_p: float, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The next token of each row and its logprob (see `Completion`). logits: [batch, vocab] → [batch], [batch]."""
    if temperature == 0:
        tokens = logits.argmax(-1)
        logprobs = logits.log_softmax(-1)
    else:
        logprobs = (logits / temperature).log_softmax(-1)
        tokens = _draw(logprobs.exp(), top_p, generator)
    return tokens, logprobs.gather(-1, tokens[:, None])[:, 0]


def _draw(probs: torch.Tensor, top_p: float, generator) -> torch.Tensor:
    """Sample one token per row of probs [batch, vocab], from the top-p nucleus. → [batch]."""
    if top_p == 1:
        return _inverse_cdf(probs, generator)
    sorted_probs, order = probs.sort(-1, descending=True)
    # A token is cut when the tokens ranked above it already hold top_p of the mass; the first never is.
    cut = sorted_probs.cumsum(-1) - sorted_probs >= top_p
    choice = _inverse_cdf(sorted_probs.masked_fill(cut, 0.0), generator)
    return order.gather(-1, choice[:, None])[:, 0]


def _inverse_cdf(weights: torch.Tensor, generator) -> torch.Tensor:
    """One index per row of weights [batch, vocab] (not necessarily normalized), drawn in proportion to them. → [batch]

    Inverse-CDF sampling: one uniform number per row, found in the row's cumulative sums (float64,
    so even tokens of probability 1e-12 keep their share). ``torch.multinomial`` draws one random
    number per vocabulary entry instead (the exponential race), and that dominated search rounds
    of 512 rows: 13 ms a step against 0.7 ms here. A zero weight is never drawn: its cumulative
    sum equals its predecessor's, so no uniform number falls in its interval.
    """
    cdf = weights.to(torch.float64).cumsum(-1)
    total = cdf[:, -1:]
    uniform = torch.rand(total.shape, generator=generator, dtype=torch.float64, device=weights.device) * total
    # rounding may carry u * total up to total itself; keep it below, so the draw stays in the row
    uniform = torch.minimum(uniform, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, uniform, right=True)[:, 0]


def _generate_arbor(model, input_ids, attention_mask, max_new_tokens, temperature, top_p, stop, generator,
                    prompt_ids=None, prefix_cache: PrefixCache | None = None):
    """Our decoding loop. input_ids, attention_mask: [prompts, prompt_len].

    Returns tokens [prompts, max_new_tokens], logprobs (same shape), ends [prompts] (how many of
    the tokens belong to each completion) and stopped [prompts] (bool: a stop rule ended it).
    With a `prefix_cache`, prompts it holds skip the prefill, and the finished rows are added to it.
    """
    prompts = input_ids.shape[0]
    device = input_ids.device
    tokens = torch.zeros((prompts, max_new_tokens), dtype=torch.long, device=device)
    logprobs = torch.zeros((prompts, max_new_tokens), dtype=torch.float32, device=device)
    ends = torch.full((prompts,), max_new_tokens, dtype=torch.long, device=device)
    stopped = torch.zeros(prompts, dtype=torch.bool, device=device)
    rows = torch.arange(prompts, device=device)  # the prompt each batch row continues
    alive = torch.ones(prompts, dtype=torch.bool, device=device)  # rows still generating

    decoder = _make_decoder(model, input_ids.shape[1] + max_new_tokens)
    recording = prefix_cache is not None and isinstance(decoder, _LlamaDecoder)
    entries = [prefix_cache.get(prompt) for prompt in prompt_ids] if recording else []
    if recording and all(entry is not None for entry in entries):
        logits, rows = _resume_shared(decoder, entries, input_ids)
        prefix_cache.resumed_calls += 1
    else:
        logits = _prefill_shared(decoder, input_ids, attention_mask)
    prompt_lengths = attention_mask.sum(-1)
    finished = []  # (prompt index, _CacheEntry) of rows as they end, when recording
    for step in range(max_new_tokens):
        chosen, chosen_logprobs = _choose(logits, temperature, top_p, generator)
        tokens[rows, step] = chosen
        logprobs[rows, step] = chosen_logprobs
        hit = stop.hits(tokens, rows, step) & alive
        some_finished = bool(hit.any())
        if some_finished:
            ends[rows[hit]] = step + 1
            stopped[rows[hit]] = True
            alive &= ~hit
        last = step + 1 == max_new_tokens or not alive.any()
        if recording and (some_finished or last):
            ending = (hit | alive) if last else hit
            finished += decoder.entries(ending.nonzero()[:, 0], prompt_lengths[rows] + step, rows)
        if last:
            break
        keep = _rows_to_keep(alive) if some_finished else None
        if keep is not None:
            decoder.keep(keep)
            rows, alive, chosen = rows[keep], alive[keep], chosen[keep]
        logits = decoder.step(chosen)
    if recording:  # rows as lists first: indexing the tensors row by row took 4 times as long
        token_rows, lengths = tokens.tolist(), ends.tolist()
        prefix_cache.add({
            tuple(prompt_ids[i]) + tuple(token_rows[i][: lengths[i]]): entry for i, entry in finished
        })
    return tokens, logprobs, ends, stopped


def _by_source(entries: Sequence[_CacheEntry]) -> torch.Tensor:
    """A batch order [prompts] of cached prompts that puts the rows of each source buffer (one earlier
    call's, from one of its batch shrinks) next to each other, in prompt order within each."""
    first_seen: dict[int, int] = {}
    source = [first_seen.setdefault(id(entry.keys), len(first_seen)) for entry in entries]
    return torch.tensor(sorted(range(len(entries)), key=source.__getitem__))


def _resume_shared(decoder: _LlamaDecoder, entries: Sequence[_CacheEntry], input_ids: torch.Tensor):
    """Resume from cached prompts, feeding each distinct one once (a beam's children all continue
    it), as `_prefill_shared` does for a prefill. entries: one per prompt (equal prompts get the same
    entry); input_ids: [prompts, width]. Returns the logits [batch, vocab] and the prompt each batch
    row continues [batch]: the distinct prompts first, then the repeats, each part grouped by the
    buffers their caches lie in (see `_by_source`).
    """
    seen: set[int] = set()
    firsts, repeats = [], []  # the first prompt with each entry, and the prompts repeating one
    for prompt, entry in enumerate(entries):
        (repeats if id(entry) in seen else firsts).append(prompt)
        seen.add(id(entry))
    firsts = [firsts[i] for i in _by_source([entries[p] for p in firsts]).tolist()]
    batch_row = {id(entries[p]): row for row, p in enumerate(firsts)}
    repeats = [repeats[i] for i in _by_source([entries[p] for p in repeats]).tolist()] if repeats else []
    order = firsts + repeats
    repeat_of = torch.tensor([batch_row[id(entries[p])] for p in repeats], dtype=torch.long, device=input_ids.device)
    logits = decoder.resume([entries[p] for p in order], input_ids[order, -1], repeat_of)
    return logits, torch.tensor(order, device=input_ids.device)


def lay_out_cached(entries: Sequence, width: int, capacity: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Keys and values, per layer, of rows continuing cached spans: new buffers [len(entries),
    kv_heads, capacity, head_dim] whose first `width` positions hold each entry's cached positions
    right-aligned (left-padded, as a prefill lays out prompts). None entries (rows with nothing
    cached) get zeros there.

    entries: `_CacheEntry`-like (keys and values: per-layer buffers [batch, kv_heads, length,
    head_dim]; row, start, end), those lying in the same buffers next to each other (see
    `_by_source`). For each such run, one index_select per layer gathers every position of the new
    layout, [rows, heads, width], as head_dim-long rows of the flattened source (padding positions
    repeat a row's first cached position: masked, and finite, as they must be, since 0 x NaN is
    NaN), and one block copy puts them in the new buffer. Scattering the positions with index_copy_
    instead took about 4 times as long as gathering them.
    """
    layers = next(entry for entry in entries if entry is not None).keys
    like = layers[0]  # [batch, kv_heads, length, head_dim], as every layer's
    heads, head_dim = like.shape[1], like.shape[3]
    runs = []  # (an entry of the source, or None; its rows first..end-1; their flat positions)
    for first, end in _runs([None if entry is None else id(entry.keys) for entry in entries]):
        source = entries[first]
        positions = None if source is None else _gathered_positions(entries[first:end], width, heads, source.keys[0].shape[2])
        runs.append((source, first, end, None if positions is None else positions.to(like.device)))
    keys, values = [], []
    for layer in range(len(layers)):
        for buffers, name in ((keys, "keys"), (values, "values")):
            buffer = like.new_empty(len(entries), heads, capacity, head_dim)
            for source, first, end, positions in runs:
                if source is None:
                    buffer[first:end, :, :width] = 0
                else:
                    block = getattr(source, name)[layer].view(-1, head_dim).index_select(0, positions)
                    buffer[first:end, :, :width] = block.view(end - first, heads, width, head_dim)
            buffers.append(buffer)
    return keys, values


def _gathered_positions(entries: Sequence, width: int, heads: int, source_length: int) -> torch.Tensor:
    """Indices [len(entries) * heads * width] into a flattened [batch * heads * length, head_dim]
    source buffer: for each entry, head by head, its positions start..end-1 right-aligned to end
    at `width`, the `width - (end - start)` padding positions before them pointing at `start`."""
    rows = torch.tensor([entry.row for entry in entries])[:, None, None]
    starts = torch.tensor([entry.start for entry in entries])[:, None, None]
    pads = width - torch.tensor([entry.end - entry.start for entry in entries])[:, None, None]
    offsets = (torch.arange(width)[None, None, :] - pads).clamp(min=0)  # [entries, 1, width]
    head = torch.arange(heads)[None, :, None]
    return ((rows * heads + head) * source_length + starts + offsets).reshape(-1)


def _runs(keys: Sequence) -> list[tuple[int, int]]:
    """(start, end) of each run of equal neighbours in `keys`."""
    bounds = [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
    return list(zip([0, *bounds], [*bounds, len(keys)]))


def _prefill_shared(decoder, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Prefill each distinct prompt once and copy its cache to the rows that repeat it (as search's
    beams and samples of one prefix do). input_ids, attention_mask: [prompts, prompt_len] → [prompts, vocab].

    Like a shrunk batch (see "Exactness"), the smaller prefill batch may round differently from
    ``generate``'s in the last bits; prompts that are all distinct take the unchanged path.
    """
    rows, inverse = torch.unique(torch.cat([input_ids, attention_mask], 1), dim=0, return_inverse=True)
    if len(rows) == len(input_ids):
        return decoder.prefill(input_ids, attention_mask)
    width = input_ids.shape[1]
    logits = decoder.prefill(rows[:, :width], rows[:, width:])
    decoder.keep(inverse)
    return logits[inverse]


def _rows_to_keep(alive: torch.Tensor) -> torch.Tensor | None:
    """Batch rows worth keeping once some have finished, or None to keep them all.

    Shrinks only when that drops at least a quarter of the rows (copying the cache costs about a
    step), and never below `_MIN_ROWS`: finished rows fill the batch up to that size.
    """
    size = len(alive)
    target = max(int(alive.sum()), min(_MIN_ROWS, size))
    if 4 * target > 3 * size:
        return None
    finished = (~alive).nonzero()[:, 0]
    keep = alive.clone()
    keep[finished[: target - int(alive.sum())]] = True
    return keep.nonzero()[:, 0]


def _accepts(model, argument: str) -> bool:
    return argument in inspect.signature(model.forward).parameters


def _cache_argument(model) -> str:
    """The forward's name for the KV cache: ``cache`` since transformers 5.2x, ``past_key_values`` before."""
    return "cache" if _accepts(model, "cache") else "past_key_values"


def _prefill(model, input_ids, attention_mask):
    """Run the prompts through the model's forward as ``generate`` does (same inputs, same cache).

    input_ids, attention_mask: [batch, prompt_len]. Returns the last position's logits
    [batch, vocab] (float32), the filled DynamicCache, the 2D mask to keep extending (None when
    nothing is padded: ``generate`` then drops it) and the last position ids [batch, 1].
    """
    positions = (attention_mask.cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    mask = None if bool(attention_mask.all()) else attention_mask
    extra = {"logits_to_keep": 1} if _accepts(model, "logits_to_keep") else {}
    if _accepts(model, "position_ids"):
        extra["position_ids"] = positions
    cache = DynamicCache(config=model.config)
    extra[_cache_argument(model)] = cache
    output = model(input_ids=input_ids, attention_mask=mask, use_cache=True, **extra)
    return output.logits[:, -1].float(), cache, mask, positions[:, -1:]


def _make_decoder(model, max_length: int):
    """The fast decoder when the model fits it, else the generic one."""
    config = model.config
    full_attention = all(kind == "full_attention" for kind in getattr(config, "layer_types", None) or ())
    if config.model_type in _FAST_MODEL_TYPES and config._attn_implementation == "sdpa" and full_attention:
        return _LlamaDecoder(model, max_length)
    return _HFDecoder(model)


class _HFDecoder:
    """Any causal LM: its own forward, one token per row per step, with a DynamicCache."""

    def __init__(self, model):
        self.model = model
        self.pass_positions = _accepts(model, "position_ids")
        self.cache_argument = _cache_argument(model)

    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """input_ids, attention_mask: [batch, prompt_len] → next-token logits [batch, vocab]."""
        logits, self.cache, self.mask, self.positions = _prefill(self.model, input_ids, attention_mask)
        return logits

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: [batch] → next-token logits [batch, vocab]."""
        self.positions = self.positions + 1
        if self.mask is not None:
            self.mask = torch.cat([self.mask, self.mask.new_ones(len(tokens), 1)], dim=1)
        extra = {"position_ids": self.positions} if self.pass_positions else {}
        extra[self.cache_argument] = self.cache
        output = self.model(input_ids=tokens[:, None], attention_mask=self.mask, use_cache=True, **extra)
        return output.logits[:, -1].float()

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only these batch rows. rows: [new_batch] indices."""
        self.cache.batch_select_indices(rows)
        self.positions = self.positions[rows]
        if self.mask is not None:
            self.mask = self.mask[rows]


class _Layer(NamedTuple):
    """One decoder layer's tensors, fetched once per call so that a step makes no module calls.

    Linear layers are (weight, bias) pairs; norms are (weight, eps) pairs.
    """

    attn: torch.nn.Module  # handed to the attention function, which reads its head counts
    head_dim: int
    scaling: float
    input_norm: tuple
    q: tuple
    k: tuple
    v: tuple
    o: tuple
    post_norm: tuple
    gate: tuple
    up: tuple
    down: tuple
    act: Callable

    @classmethod
    def of(cls, layer) -> _Layer:
        attn, mlp = layer.self_attn, layer.mlp
        return cls(
            attn, attn.head_dim, attn.scaling, _norm_of(layer.input_layernorm),
            *(_linear_of(proj) for proj in (attn.q_proj, attn.k_proj, attn.v_proj, attn.o_proj)),
            _norm_of(layer.post_attention_layernorm),
            *(_linear_of(proj) for proj in (mlp.gate_proj, mlp.up_proj, mlp.down_proj)),
            mlp.act_fn,
        )


def _linear_of(module) -> tuple:
    return module.weight, module.bias


def _norm_of(module) -> tuple:
    return module.weight, module.variance_epsilon


def _rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """transformers' LlamaRMSNorm (and Qwen2RMSNorm) forward, op for op."""
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return weight * h.to(x.dtype)


class _LlamaDecoder:
    """Llama-family decoding (Llama, Qwen2; SDPA attention) with a KV cache allocated ahead.

    Each step makes the torch calls transformers' decoder layers make, in the same order on the
    same shapes, so the logits are bit-identical to ``generate``'s, while skipping its per-step
    work: building the 4D mask, concatenating the cache, and module and wrapper calls.

    The cache buffers hold a half more positions than are filled (at least `_GROWTH`, at most
    `max_length`) and are reallocated when full, rather than holding `max_length` from the start:
    a search step may write up to 64 tokens but mostly writes 10, and SDPA reads a slice of
    oversized buffers more slowly (scratch timing, session 16: up to 2x at 512 rows).
    """

    def __init__(self, model, max_length: int):
        self.model = model
        self.max_length = max_length
        self.embed = model.model.embed_tokens.weight
        self.rotary = model.model.rotary_emb
        self.layers = [_Layer.of(layer) for layer in model.model.layers]
        self.final_norm = _norm_of(model.model.norm)
        self.lm_head = _linear_of(model.lm_head)
        self.attention = ALL_ATTENTION_FUNCTIONS.get_interface(model.config._attn_implementation, None)

    def prefill(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """input_ids, attention_mask: [batch, prompt_len] → next-token logits [batch, vocab]."""
        logits, cache, mask, self.positions = _prefill(self.model, input_ids, attention_mask)
        batch, self.length = input_ids.shape
        # keys/values: per layer [batch, kv_heads, capacity, head_dim]; the first `length` are filled.
        capacity = self._capacity()
        self.keys, self.values = [], []
        for layer in cache.layers:
            for buffers, filled in ((self.keys, layer.keys), (self.values, layer.values)):
                heads, head_dim = filled.shape[1], filled.shape[3]
                buffer = filled.new_empty(batch, heads, capacity, head_dim)
                buffer[:, :, : self.length] = filled
                buffers.append(buffer)
        # The 4D boolean mask [batch, 1, 1, capacity] that transformers builds for SDPA when some
        # prompt is padded (True = attend), or None when none is, as transformers passes then.
        self.mask = None
        if mask is not None:
            self.mask = torch.ones((batch, 1, 1, capacity), dtype=torch.bool, device=input_ids.device)
            self.mask[:, 0, 0, : self.length] = mask.bool()
        return logits

    def _capacity(self) -> int:
        """Positions for a new buffer holding `length` filled ones: a half more, at least `_GROWTH`."""
        return min(self.max_length, self.length + max(_GROWTH, self.length // 2))

    def _grow(self) -> None:
        """Reallocate the full cache buffers (and mask) with room for more positions."""
        capacity = self._capacity()
        self.keys = [self._with_capacity(buffer, capacity) for buffer in self.keys]
        self.values = [self._with_capacity(buffer, capacity) for buffer in self.values]
        if self.mask is not None:
            mask = self.mask.new_ones((*self.mask.shape[:3], capacity))
            mask[..., : self.length] = self.mask[..., : self.length]
            self.mask = mask

    def _with_capacity(self, buffer: torch.Tensor, capacity: int) -> torch.Tensor:
        """A copy of buffer [batch, heads, old capacity, head_dim]'s filled positions in one of `capacity`."""
        grown = buffer.new_empty((*buffer.shape[:2], capacity, buffer.shape[3]))
        grown[:, :, : self.length] = buffer[:, :, : self.length]
        return grown

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens: [batch] → next-token logits [batch, vocab]."""
        if self.length == self.keys[0].shape[2]:
            self._grow()
        at = self.length
        self.length += 1
        self.positions = self.positions + 1
        hidden = F.embedding(tokens[:, None], self.embed)  # [batch, 1, hidden]
        cos, sin = self.rotary(hidden, self.positions)  # [batch, 1, head_dim]
        cos, signed_sin = cos[:, None], _half_signs(sin)[:, None]  # [batch, 1, 1, head_dim]
        mask = None if self.mask is None else self.mask[..., : self.length]
        for layer, keys, values in zip(self.layers, self.keys, self.values):
            hidden = self._layer(layer, hidden, cos, signed_sin, keys, values, at, mask)
        return F.linear(_rms_norm(hidden, *self.final_norm), *self.lm_head)[:, -1].float()

    def _layer(self, layer: _Layer, hidden, cos, signed_sin, keys, values, at: int, mask) -> torch.Tensor:
        """One decoder layer on hidden [batch, 1, hidden_size]; writes this token's key and value at `at`."""
        x = _rms_norm(hidden, *layer.input_norm)
        heads_shape = (x.shape[0], 1, -1, layer.head_dim)
        query = F.linear(x, *layer.q).view(heads_shape).transpose(1, 2)  # [batch, heads, 1, head_dim]
        key = F.linear(x, *layer.k).view(heads_shape).transpose(1, 2)  # [batch, kv_heads, 1, head_dim]
        keys[:, :, at: at + 1] = _rotate(key, cos, signed_sin)
        values[:, :, at: at + 1] = F.linear(x, *layer.v).view(heads_shape).transpose(1, 2)
        end = at + 1
        out, _ = self.attention(
            layer.attn, _rotate(query, cos, signed_sin), keys[:, :, :end], values[:, :, :end], mask,
            dropout=0.0, scaling=layer.scaling,
        )  # [batch, 1, heads, head_dim]
        hidden = hidden + F.linear(out.reshape(x.shape[0], 1, -1), *layer.o)
        x = _rms_norm(hidden, *layer.post_norm)
        return hidden + F.linear(layer.act(F.linear(x, *layer.gate)) * F.linear(x, *layer.up), *layer.down)

    def entries(self, batch_rows: torch.Tensor, fed: torch.Tensor, prompt_of_row: torch.Tensor) -> list:
        """`(prompt index, _CacheEntry)` for these batch rows as they stand: each row's last `fed`
        positions hold the keys and values of every token it has read. fed: [batch]; prompt_of_row: [batch]."""
        prompts, fed = prompt_of_row.tolist(), fed.tolist()
        return [
            (prompts[row], _CacheEntry(self.keys, self.values, row, self.length - fed[row], self.length))
            for row in batch_rows.tolist()
        ]

    def resume(self, entries: Sequence[_CacheEntry], last_tokens: torch.Tensor,
               repeat_of: torch.Tensor | None = None) -> torch.Tensor:
        """Start from cached prefixes instead of a prefill: each row's cache holds every token of its
        prompt but the last, `last_tokens` [batch], which is fed now. Returns logits [batch, vocab].

        repeat_of [repeats]: the last `repeats` rows repeat earlier rows (these ones), prompt and
        all; only the rows before them are fed, and the repeats get copies of what they write.

        The rows are laid out left-padded like a prefill's (shorter caches end where the longest
        does; see `lay_out_cached`, whose order they must be in).
        """
        spans = torch.tensor([entry.end - entry.start for entry in entries])
        self.length = width = int(spans.max())
        device = last_tokens.device
        capacity = self._capacity()
        self.keys, self.values = lay_out_cached(entries, width, capacity)
        self.mask = None
        if bool((spans != width).any()):
            self.mask = (torch.arange(capacity)[None, None, None, :] >= (width - spans)[:, None, None, None]).to(device)
        self.positions = (spans - 1)[:, None].to(device)
        if repeat_of is None or len(repeat_of) == 0:
            return self.step(last_tokens)
        return self._step_distinct(last_tokens, repeat_of)

    def _step_distinct(self, tokens: torch.Tensor, repeat_of: torch.Tensor) -> torch.Tensor:
        """`step` for the first rows only (a view of the buffers), then the keys and values written
        copied to the last `len(repeat_of)` rows from the rows they repeat. tokens: [batch] → [batch, vocab]."""
        distinct = len(tokens) - len(repeat_of)
        keys, values, positions, mask = self.keys, self.values, self.positions, self.mask
        self.keys, self.values = [buffer[:distinct] for buffer in keys], [buffer[:distinct] for buffer in values]
        self.positions, self.mask = positions[:distinct], None if mask is None else mask[:distinct]
        logits = self.step(tokens[:distinct])  # never grows the views: a resume leaves room (`_capacity`)
        self.keys, self.values, self.positions, self.mask = keys, values, positions + 1, mask
        written = self.length - 1
        for buffer in (*keys, *values):
            buffer[distinct:, :, written] = buffer[repeat_of, :, written]
        return torch.cat([logits, logits[repeat_of]])

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only these batch rows. rows: [new_batch] indices (repeats copy a row)."""
        self.keys = [self._rows_of(buffer, rows) for buffer in self.keys]
        self.values = [self._rows_of(buffer, rows) for buffer in self.values]
        self.positions = self.positions[rows]
        if self.mask is not None:
            self.mask = self.mask[rows]

    def _rows_of(self, buffer: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """A new cache buffer [rows, heads, capacity, head_dim] holding those rows' filled positions.

        Only the first `length` positions are copied (the rest is written before it is read): after
        a shared prefill or early in a step, most of the buffer is still empty.
        """
        kept = buffer.new_empty((len(rows), *buffer.shape[1:]))
        # index_select then a block copy: 4 times as fast as indexing buffer[rows, :, :length]
        kept[:, :, : self.length] = buffer[:, :, : self.length].index_select(0, rows)
        return kept


def _half_signs(sin: torch.Tensor) -> torch.Tensor:
    """sin [..., head_dim] with its first half negated, for `_rotate`."""
    half = sin.shape[-1] // 2
    return torch.cat([-sin[..., :half], sin[..., half:]], dim=-1)


def _rotate(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotary embedding, bit-identical to transformers' ``x * cos + rotate_half(x) * sin``.

    rotate_half(x) * sin is [-x2, x1] * [s1, s2]; rolling x by half gives [x2, x1], and
    x2 * (-s1) equals (-x2) * s1 exactly (a sign flip is exact), with one op instead of four.
    """
    return x * cos + x.roll(x.shape[-1] // 2, dims=-1) * signed_sin


class _StopCriteria(StoppingCriteria):
    """Our stop rule as a ``generate`` stopping criterion (per row)."""

    def __init__(self, stop: _StopRule, prompt_length: int):
        self.stop = stop
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        generated = input_ids[:, self.prompt_length:]
        rows = torch.arange(len(input_ids), device=input_ids.device)
        return self.stop.hits(generated, rows, generated.shape[1] - 1)


def _generate_hf(model, input_ids, attention_mask, max_new_tokens, temperature, top_p, stop, seed):
    """transformers' ``generate``, stopped by our rule; same return values as `_generate_arbor`."""
    if seed is not None:
        torch.manual_seed(seed)
    sampling = {"do_sample": False}
    if temperature > 0:  # top_k=0 turns off generate's default top-k of 50
        sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
    output = model.generate(
        input_ids=input_ids,
        attention_mask=attention_mask,
        max_new_tokens=max_new_tokens,
        eos_token_id=None,  # every stop is our criterion's, so rows end exactly where ours do
        pad_token_id=_pad_id(model),
        stopping_criteria=StoppingCriteriaList([_StopCriteria(stop, input_ids.shape[1])]),
        output_logits=True,
        return_dict_in_generate=True,
        **sampling,
    )
    generated = output.sequences[:, input_ids.shape[1]:]
    steps = generated.shape[1]
    logits = torch.stack(output.logits, dim=1).float()  # [prompts, steps, vocab]
    scaled = logits / temperature if temperature > 0 else logits
    chosen = scaled.log_softmax(-1).gather(-1, generated[..., None])[..., 0]
    tokens = torch.zeros((len(input_ids), max_new_tokens), dtype=torch.long, device=input_ids.device)
    logprobs = torch.zeros((len(input_ids), max_new_tokens), dtype=torch.float32, device=input_ids.device)
    tokens[:, :steps], logprobs[:, :steps] = generated, chosen
    ends = torch.full((len(input_ids),), max_new_tokens, dtype=torch.long, device=input_ids.device)
    stopped = torch.zeros(len(input_ids), dtype=torch.bool, device=input_ids.device)
    rows = torch.arange(len(input_ids), device=input_ids.device)
    for step in range(steps):
        first = stop.hits(tokens, rows, step) & ~stopped
        ends[first] = step + 1
        stopped |= first
    return tokens, logprobs, ends, stopped
