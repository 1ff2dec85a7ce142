"""`IncrementalScorer` against whole forwards of the same scoring model (`score_positions`)."""

import random

import pytest
import torch
from transformers import LlamaConfig, LlamaForTokenClassification

from arborlab.search.scorer_cache import IncrementalScorer
from arborlab.train.prm import Encoded, score_positions

VOCAB = 50


@pytest.fixture(scope="module")
def scorer_model():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=256, num_labels=1, pad_token_id=0)
    return LlamaForTokenClassification(config).eval()


def extended(item: Encoded, rng: random.Random, steps: int = 1) -> Encoded:
    """The item with `steps` more scored pieces of 2-7 random tokens."""
    ids, positions = list(item.ids), list(item.positions)
    for _ in range(steps):
        ids += [rng.randrange(1, VOCAB) for _ in range(rng.randint(2, 7))]
        positions.append(len(ids) - 1)
    return Encoded(ids, positions, False)


def assert_whole_forward_scores(model, items, got):
    for ours, whole in zip(got, score_positions(model, items)):
        assert ours == pytest.approx(whole, abs=1e-5)


def test_traces_that_continue_the_last_calls_score_as_whole_forwards_do(scorer_model):
    rng = random.Random(0)
    roots = [extended(Encoded([rng.randrange(1, VOCAB) for _ in range(rng.randint(4, 12))], [], False), rng, steps=2)
             for _ in range(5)]
    scorer = IncrementalScorer(scorer_model, batch_size=3)  # chunks mixing rows with and without a cached prefix
    scores, cached = scorer.scores(roots)
    assert cached == [0] * len(roots)
    assert_whole_forward_scores(scorer_model, roots, scores)

    children = [extended(root, rng) for root in roots for _ in range(2)]  # beam children: one more step each
    children.append(Encoded(roots[0].ids[: roots[0].positions[0] + 1], roots[0].positions[:1], False))  # a shorter prefix
    children.append(extended(Encoded(roots[1].ids[: roots[1].positions[0] + 1], roots[1].positions[:1], False), rng))
    children.append(roots[2])  # scored whole last time
    children.append(extended(Encoded([1, 2, 3], [2], False), rng))  # never seen
    scores, cached = scorer.scores(children)
    assert cached[:10] == [len(root.ids) for root in roots for _ in range(2)]
    assert cached[10:] == [roots[0].positions[0] + 1, roots[1].positions[0] + 1, len(roots[2].ids), 0]
    assert_whole_forward_scores(scorer_model, children, scores)

    grandchildren = [extended(child, rng, steps=2) for child in children]  # prefixes from last call's batches
    scores, cached = scorer.scores(grandchildren)
    assert cached == [len(child.ids) for child in children]
    assert_whole_forward_scores(scorer_model, grandchildren, scores)


def test_a_scorer_that_takes_no_cache_is_read_whole(scorer_model):
    rng = random.Random(1)
    items = [extended(Encoded([rng.randrange(1, VOCAB) for _ in range(6)], [], False), rng, steps=2) for _ in range(3)]
    scorer = IncrementalScorer(scorer_model)
    scorer.incremental = False  # as for a forward without cache or position ids (checked from its signature)
    scorer.scores(items)
    children = [extended(item, rng) for item in items]
    scores, cached = scorer.scores(children)
    assert cached == [0, 0, 0]
    assert_whole_forward_scores(scorer_model, children, scores)
