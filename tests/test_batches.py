"""Training batches: length-grouped order, and repeating long examples."""

from collections import Counter

from arborlab.train.batches import Example, batch_order, repeat_long


def _examples(lengths):
    return [Example(ids=tuple(range(n)), n_prompt=1) for n in lengths]


def test_repeat_long_repeats_exactly_the_examples_at_or_above_the_threshold():
    examples = _examples([3, 10, 9, 25, 10])
    repeated = repeat_long(examples, min_tokens=10, repeats=3)
    counts = Counter(len(e.ids) for e in repeated)
    # brute-force count: lengths >= 10 appear three times per original, the rest once
    assert counts == {3: 1, 9: 1, 10: 6, 25: 3}
    assert repeat_long(examples, min_tokens=10, repeats=1) == examples


def test_batch_order_covers_every_example_once_per_epoch_in_batches_of_similar_length():
    lengths = [1 + (7 * i) % 97 for i in range(1000)]
    batches = batch_order(lengths, batch_size=10, seed=3, epoch=0)
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    assert all(len(batch) == 10 for batch in batches)
    # grouped by length within windows of 50 batches: a batch spans far less than the whole range
    spans = sorted(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spans[len(spans) // 2] <= 5
    assert batch_order(lengths, 10, 3, 1) != batches  # a new shuffle each epoch
