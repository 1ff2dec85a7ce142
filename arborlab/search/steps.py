"""A policy model writing completions of task prompts, whole or one step at a time.

A step is one line of the ``<think>`` block (see `arborlab.text`), so step-wise expansion samples
until a newline token. Every completion starts from ``prompt ids + "<think>\\n"``: every trace opens
with that line, and forcing it saves a round of step expansion. Each call batches the traces of
all problems (and all beams or leaves of each) into sampler calls of up to `batch_size` rows, and
charges every row's tokens, FLOPs and a share of the wall time to its problem's `Budget`.

A call continuing last round's lines (every row a completion of a recent call) skips the
prefill: the policy's `PrefixCache` keeps those rows' keys and values, so only each row's last
token is read again. Other calls re-read each prefix (prompt + steps so far) in their prefill, and
the FLOPs charged include that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Sequence

from arborlab.errors import ArborError
from arborlab.sample import PrefixCache, sample
from arborlab.search.budget import Budget, FlopCounter
from arborlab.tasks import Problem, Task
from arborlab.text import ANSWER_CLOSE, THINK_OPEN
from arborlab.train.batches import prompt_ids

OPENING_LINE = THINK_OPEN + "\n"  # every completion starts with it (forced, not sampled)


@dataclass(frozen=True)
class Trace:
    """A partial or finished completion of one problem.

    owner: the problem's index in the search. ids: prompt + completion token ids. prompt_len: how
    many of `ids` are the prompt. done: the completion ended (``</answer>``, eos or the length limit).
    """

    owner: int
    ids: tuple[int, ...]
    prompt_len: int
    done: bool = False

    @property
    def completion_ids(self) -> tuple[int, ...]:
        return self.ids[self.prompt_len:]


class Policy:
    """A causal LM and its tokenizer, sampling completions and steps for search strategies.

    max_new_tokens: the most completion tokens a trace may hold. max_step_tokens: the most tokens
    one step expansion writes. batch_size: rows per sampler call.
    """

    def __init__(self, model, tokenizer, max_new_tokens: int = 256, max_step_tokens: int = 64, batch_size: int = 256,
                 backend: str = "arbor"):
        self.model, self.tokenizer = model, tokenizer
        self.max_new_tokens, self.max_step_tokens, self.batch_size, self.backend = (
            max_new_tokens, max_step_tokens, batch_size, backend)
        self.flops = FlopCounter(model)
        self.prefix_cache = PrefixCache()
        self.end_ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
        self.answer_close = self._encode(ANSWER_CLOSE)
        self.opening = self._encode(OPENING_LINE)
        check_room(tokenizer, max_new_tokens)
        if max_step_tokens < 1 or batch_size < 1:
            raise ArborError(f"max_step_tokens and batch_size must be at least 1, got {max_step_tokens} and {batch_size}.")
        self.newline_ids = newline_token_ids(tokenizer)
        if not self.newline_ids:
            raise ArborError("the tokenizer has no token for a newline, so a trace cannot be split into steps.")

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def roots(self, task: Task, problems: Sequence[Problem]) -> list[Trace]:
        """One empty completion per problem: its prompt ids followed by ``<think>\\n``."""
        traces = []
        for owner, problem in enumerate(problems):
            prompt = prompt_ids(self.tokenizer, task.prompt(problem))
            traces.append(Trace(owner, tuple(prompt + self.opening), len(prompt)))
        return traces

    def append(self, trace: Trace, text: str) -> Trace:
        """The trace with `text` (e.g. step lines) written after it; done when that fills it."""
        ids = trace.ids + tuple(self._encode(text))
        return replace(trace, ids=ids, done=trace.done or len(ids) - trace.prompt_len >= self.max_new_tokens)

    def text(self, trace: Trace) -> str:
        """The completion text of a trace (from ``<think>`` on)."""
        return self.texts([trace])[0]

    def texts(self, traces: Sequence[Trace]) -> list[str]:
        """`text` of each trace, decoded in one batch: search scores hundreds of traces a round.

        A fast tokenizer without space clean-up decodes straight through its Rust backend, which is
        what `decode` does for it after converting the ids in Python (most of its time here).
        """
        ids = [list(trace.completion_ids) for trace in traces]
        if getattr(self.tokenizer, "is_fast", False) and not self.tokenizer.clean_up_tokenization_spaces:
            return self.tokenizer.backend_tokenizer.decode_batch(ids, skip_special_tokens=True)
        return self.tokenizer.batch_decode(ids, skip_special_tokens=True)

    def complete(self, traces: Sequence[Trace], budgets: list[Budget], temperature: float, seed: int) -> list[Trace]:
        """Each trace written to its end (``</answer>``, eos or the length limit)."""
        traces = list(traces)
        for round_ in range(self.max_new_tokens):  # each round ends at least one trace
            if all(t.done for t in traces):
                break
            traces = self._extend(traces, budgets, temperature, seed + round_ * 7919, step=False)
        return traces

    def step(self, traces: Sequence[Trace], budgets: list[Budget], temperature: float, seed: int) -> list[Trace]:
        """Each trace extended by one line (up to a newline), or to its end when it answers instead."""
        return self._extend(traces, budgets, temperature, seed, step=True)

    def step_and_complete(self, traces: Sequence[Trace], budgets: list[Budget], temperature: float,
                          seed: int) -> list[tuple[Trace, Trace]]:
        """Each trace's next step and a completion written on from it, sampled in one pass.

        Returns (child, completion) per trace: the completion written to its end, and the child, the
        trace with the completion's first line (what `step` would have sampled; the completion itself
        when it answers within that line).
        """
        pairs = []
        for trace, written in zip(traces, self.complete(traces, budgets, temperature, seed)):
            new = written.ids[len(trace.ids):]
            cut = next((k + 1 for k, token in enumerate(new[: self.max_step_tokens]) if token in self.newline_ids),
                       min(len(new), self.max_step_tokens))
            child = written if cut == len(new) else replace(trace, ids=trace.ids + new[:cut])
            pairs.append((child, written))
            if child is not written:  # a later round may expand the child: its keys and values are the rollout's first
                self.prefix_cache.alias(child.ids, written.ids)
        return pairs

    def _extend(self, traces, budgets, temperature, seed, step: bool) -> list[Trace]:
        """One sampler pass over the unfinished traces, in chunks of similar prefix length."""
        results = list(traces)
        open_rows = sorted((i for i, t in enumerate(traces) if not t.done), key=lambda i: len(traces[i].ids))
        for start in range(0, len(open_rows), self.batch_size):
            rows = open_rows[start: start + self.batch_size]
            room = min(self.max_new_tokens - len(traces[i].completion_ids) for i in rows)
            began, resumed = time.perf_counter(), self.prefix_cache.resumed_calls
            completions = sample(
                self.model, [traces[i].ids for i in rows], min(room, self.max_step_tokens) if step else room,
                temperature=temperature, stop_ids=self.end_ids + (sorted(self.newline_ids) if step else []),
                stop_sequences=[self.answer_close], seed=seed + start, backend=self.backend, prefix_cache=self.prefix_cache,
            )
            seconds = time.perf_counter() - began
            cached = self.prefix_cache.resumed_calls > resumed  # then each prompt but its last token was cached
            costs = [self.flops.call(len(traces[i].ids), len(c.tokens), cached=len(traces[i].ids) - 1 if cached else 0)
                     for i, c in zip(rows, completions)]
            for i, completion, cost in zip(rows, completions, costs):
                trace = traces[i]
                ids = trace.ids + tuple(completion.tokens)
                ended = completion.finish_reason == "stop" and completion.tokens[-1] not in self.newline_ids
                full = len(ids) - trace.prompt_len >= self.max_new_tokens
                results[i] = replace(trace, ids=ids, done=ended or full)
                budget = budgets[trace.owner]
                budget.tokens += len(completion.tokens)
                budget.flops += cost
                budget.seconds += seconds * cost / sum(costs)
        return results


def check_room(tokenizer, max_new_tokens: int) -> None:
    """Refuse, in one sentence, a `max_new_tokens` that leaves no token after the opening line."""
    opening = len(tokenizer(OPENING_LINE, add_special_tokens=False)["input_ids"])
    if max_new_tokens <= opening:
        raise ArborError(f"max_new_tokens must be more than the {opening} tokens of the opening "
                         f"'{THINK_OPEN}' line that every completion starts with, got {max_new_tokens}.")


def newline_token_ids(tokenizer) -> frozenset[int]:
    """Ids of every vocabulary token whose text holds a newline (the ends of steps)."""
    return frozenset(i for i in tokenizer.get_vocab().values() if "\n" in tokenizer.decode([i]))
