"""A PRM/ORM that reads only what a trace adds to a trace it scored in its last call.

Beam search scores every child each round, and a child is its parent plus one step line. The
scorer is a causal LM with a score head, so the parent's keys, values and scores stay what they
were: only the new line needs the model. `IncrementalScorer` keeps, from each call, every scored
trace's keys and values (views of that call's cache) and scores, under each of its scored
prefixes. In the next call a trace that begins with such a prefix feeds only the tokens after it:
the batch's cached prefixes are laid out left-padded to one width, the new tokens follow
right-padded, and the attention mask and position ids make each row read what a whole forward
would (the scores agree with one to float rounding; `tests/search/test_scorer_cache.py`).
Read whole, a round's traces cost the scorer seven times the tokens the policy wrote; a PRM beam
search on the 1m toy policy spent 69% of its time scoring (scratch timing, session 16).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import torch
from transformers import DynamicCache

from arborlab.sample import _accepts, _cache_argument, lay_out_cached
from arborlab.train.prm import Encoded, score_positions


@dataclass(frozen=True)
class _Scored:
    """One trace of the last call: its keys and values at positions start..end-1 of batch row `row`
    of per-layer tensors [batch, kv_heads, width, head_dim], and its scores."""

    keys: list
    values: list
    row: int
    start: int
    end: int
    scores: list[float]


class IncrementalScorer:
    """sigmoid(score head) at each trace's scored positions, reusing the last call's traces."""

    def __init__(self, model, batch_size: int = 64):
        self.model, self.batch_size = model, batch_size
        self.pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
        self._last: dict[tuple[int, ...], _Scored] = {}
        # a scorer whose forward takes no cache or position ids is read whole, every time
        self.incremental = _accepts(model, "position_ids") and (_accepts(model, "cache") or _accepts(model, "past_key_values"))

    def scores(self, items: Sequence[Encoded]) -> tuple[list[list[float]], list[int]]:
        """The scores of each item, and how many of its leading tokens came from the last call."""
        if not self.incremental:
            return score_positions(self.model, items, self.batch_size), [0] * len(items)
        prefixes = [self._prefix(item) for item in items]
        cached = [0 if prefix is None else prefix.end - prefix.start for prefix in prefixes]
        # rows with as many new tokens next to each other: less padding
        order = sorted(range(len(items)), key=lambda i: (len(items[i].ids) - cached[i], cached[i]))
        scored: dict[tuple[int, ...], _Scored] = {}
        results: list[list[float]] = [[] for _ in items]
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                chunk = self._by_source(order[start: start + self.batch_size], prefixes)
                for index, kept in zip(chunk, self._score([items[i] for i in chunk], [prefixes[i] for i in chunk])):
                    results[index] = kept.scores
                    item = items[index]
                    for count, position in enumerate(item.positions, start=1):  # each scored prefix can be continued
                        scored[tuple(item.ids[: position + 1])] = replace(kept, end=kept.start + position + 1,
                                                                         scores=kept.scores[:count])
        self.model.train(was_training)
        self._last = scored
        return results, cached

    @staticmethod
    def _by_source(chunk: list[int], prefixes: Sequence[_Scored | None]) -> list[int]:
        """The chunk's items with those whose prefixes lie in the same cache next to each other
        (first seen first), as `lay_out_cached` needs."""
        rank: dict[int | None, int] = {}
        source = [None if prefixes[i] is None else id(prefixes[i].keys) for i in chunk]
        return [i for _, i in sorted(zip([rank.setdefault(s, len(rank)) for s in source], chunk), key=lambda pair: pair[0])]

    def _prefix(self, item: Encoded) -> _Scored | None:
        """The longest of `item`'s scored prefixes (ids up to a scored position) kept from the last call."""
        for position in reversed(item.positions):
            prefix = self._last.get(tuple(item.ids[: position + 1]))
            if prefix is not None:
                return prefix
        return None

    def _score(self, items: Sequence[Encoded], prefixes: Sequence[_Scored | None]) -> list[_Scored]:
        """One forward over the new tokens of a batch of items, each after its cached prefix (if any)."""
        device = self.model.device
        cached = [0 if prefix is None else prefix.end - prefix.start for prefix in prefixes]
        past, width = max(cached), max(len(item.ids) - done for item, done in zip(items, cached))
        width = max(width, 1)  # an item seen whole in the last call still feeds one (padding) token
        input_ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), past + width), dtype=torch.long)
        for row, (item, done) in enumerate(zip(items, cached)):
            new = item.ids[done:]
            input_ids[row, : len(new)] = torch.tensor(new, dtype=torch.long)
            mask[row, past - done: past + len(new)] = 1
        positions = torch.tensor(cached)[:, None] + torch.arange(width)[None, :]
        cache = DynamicCache(config=self.model.config)
        if past:
            for layer, (keys, values) in enumerate(zip(*lay_out_cached(prefixes, past, past))):
                cache.update(keys, values, layer)
        output = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device), position_ids=positions.to(device),
                            use_cache=True, **{_cache_argument(self.model): cache})
        logits = output.logits[..., 0].float().sigmoid().tolist()  # [batch, width]
        keys = [layer.keys for layer in cache.layers]
        values = [layer.values for layer in cache.layers]
        kept = []
        for row, (item, prefix, done) in enumerate(zip(items, prefixes, cached)):
            scores = [] if prefix is None else list(prefix.scores[: sum(p < done for p in item.positions)])
            scores += [logits[row][p - done] for p in item.positions if p >= done]
            kept.append(_Scored(keys, values, row, past - done, past + len(item.ids) - done, scores))
        return kept
