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


def test_batch_decoded_texts_equal_one_by_one_decoding(toy, monkeypatch):
    model, tokenizer, task, problems = toy
    policy = Policy(model, tokenizer, max_new_tokens=60)
    written = policy.complete(policy.roots(task, problems) * 2, [Budget() for _ in problems], temperature=1.0, seed=3)
    one_by_one = [tokenizer.decode(list(trace.completion_ids), skip_special_tokens=True) for trace in written]
    assert policy.texts(written) == one_by_one == [policy.text(trace) for trace in written]
    monkeypatch.setattr(tokenizer, "clean_up_tokenization_spaces", True)  # the general path: HF's batch_decode
    assert policy.texts(written) == [tokenizer.decode(list(t.completion_ids), skip_special_tokens=True) for t in written]


def test_a_step_and_its_rollout_drawn_in_one_pass_split_where_a_step_ends(toy):
    model, tokenizer, task, problems = toy
    policy = Policy(model, tokenizer, max_new_tokens=60)
    roots = policy.roots(task, problems)
    budgets = [Budget() for _ in problems]
    pairs = policy.step_and_complete(roots, budgets, temperature=0.0, seed=0)
    steps = policy.step(roots, [Budget() for _ in problems], temperature=0.0, seed=0)
    whole = policy.complete(roots, [Budget() for _ in problems], temperature=0.0, seed=0)
    for (child, rollout), step, reference in zip(pairs, steps, whole):
        assert rollout == reference  # greedy: the same completion as writing it to the end directly
        assert child == step  # and the child is exactly the step that `step` samples
        assert rollout.ids[: len(child.ids)] == child.ids
    assert sum(b.tokens for b in budgets) == sum(len(r.completion_ids) - len(root.completion_ids) for (_, r), root in zip(pairs, roots))
