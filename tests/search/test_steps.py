"""Step-wise expansion: repeated prefixes share one prefill and continue exactly as if alone."""

from arborlab.sample import sample
from arborlab.search import Budget, Policy


def test_repeated_prefixes_continue_like_single_ones(toy):
    model, tokenizer, task, problems = toy
    policy = Policy(model, tokenizer, max_new_tokens=60)
    roots = policy.roots(task, problems[:2])
    repeated = [roots[0], roots[1], roots[0], roots[0]]
    steps = policy.step(repeated, [Budget(), Budget()], temperature=0.0, seed=0)
    alone = [sample(model, [list(root.ids)], 60, temperature=0.0, stop_ids=(), stop_sequences=[policy.answer_close])[0]
             for root in roots]
    for root, step in zip(repeated, steps):
        new = step.ids[len(root.ids):]
        reference = alone[root.owner].tokens
        cut = next(i for i, t in enumerate(reference) if t in policy.newline_ids or i == len(reference) - 1)
        assert list(new) == reference[: cut + 1]  # the greedy tokens up to and including the first newline
