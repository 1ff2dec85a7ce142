"""The task tokenizer round-trips every trace exactly and loads back with AutoTokenizer."""

import random

import pytest
from transformers import AutoTokenizer

from arborlab.errors import ArborError
from arborlab.tasks import get_task, task_names
from arborlab.tokenizer import LEADING_MARK, build_tokenizer, frequent_phrases, pieces


def _texts(name, n=30):
    task = get_task(name)
    texts = []
    for problem in task.problems(n, seed=1):
        for style in ("direct", "cot", "search"):
            texts.append(task.prompt(problem) + "\n" + task.trace(problem, style))
    return texts


def test_every_task_trace_round_trips_exactly(tmp_path):
    texts = [text for name in task_names() for text in _texts(name)]
    tokenizer = build_tokenizer(texts[::2])  # built from half; numbers 0-999 are always in
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    for text in texts[::2]:
        ids = loaded(text, add_special_tokens=False)["input_ids"]
        assert loaded.unk_token_id not in ids
        assert loaded.decode(ids) == text


def test_numbers_up_to_999_are_one_token_and_longer_ones_split():
    tokenizer = build_tokenizer(["numbers 1 2 target 3"])
    for number in (0, 7, 42, 999):
        assert len(tokenizer(str(number), add_special_tokens=False)["input_ids"]) == 1
    assert pieces("3234+5") == ["3" + LEADING_MARK, "234", "+", "5"]
    assert pieces("<think>\n12*3=36, left 36</think>") == [
        "<think>", "\n", "12", "*", "3", "=", "36", ",", " ", "left", " ", "36", "</think>"
    ]


def test_numbers_of_a_thousand_and_more_begin_with_marked_digits_and_round_trip():
    """A leading digit is a token of its own kind, never the number it spells: after writing the 4
    of 4785 a model knows the number goes on."""
    tokenizer = build_tokenizer(["numbers 1 2 target 3\n42*9=378, left 378"])
    rng = random.Random(0)
    for number in [1000, 1081, 4785, 10_000, 111_092, 1_234_567] + [rng.randint(1000, 10**9) for _ in range(200)]:
        text = f"42*9={number}, left {number}"
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids and tokenizer.decode(ids) == text
        digits = str(number)
        expected = [d + LEADING_MARK for d in digits[:-3]] + [digits[-3:]]  # reference: by hand from the digits
        assert tokenizer.convert_ids_to_tokens(ids)[4 : 4 + len(expected)] == expected
    four = tokenizer.convert_tokens_to_ids("4")
    assert four not in tokenizer("4785", add_special_tokens=False)["input_ids"]
    assert tokenizer.batch_decode([tokenizer("numbers 1081 4", add_special_tokens=False)["input_ids"]]) == ["numbers 1081 4"]


def test_special_tokens_and_unknown_pieces():
    tokenizer = build_tokenizer(["numbers 1 2 target 3"])
    assert (tokenizer.pad_token, tokenizer.bos_token, tokenizer.eos_token) == ("<pad>", "<bos>", "<eos>")
    ids = tokenizer("numbers zebra", add_special_tokens=False)["input_ids"]
    assert ids[-1] == tokenizer.unk_token_id
    assert tokenizer.padding_side == "left"


def test_frequent_phrases_become_single_tokens_and_newlines_stay_apart():
    texts = _texts("countdown", 60)
    tokenizer = build_tokenizer(texts)
    step = "90+93=183, left 42 183, target 39\nback to 90 93 42, target 39\n"
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(step, add_special_tokens=False)["input_ids"])
    assert tokens == ["90", "+", "93", "=", "183", ", left ", "42", " ", "183", ", target ", "39", "\n",
                      "back to ", "90", " ", "93", " ", "42", ", target ", "39", "\n"]
    assert tokenizer.decode(tokenizer(step, add_special_tokens=False)["input_ids"]) == step


def test_phrases_need_to_recur_and_never_hold_digits_or_newlines():
    texts = ["5 rare phrase 6"] + ["1, common 3\n4 y 5"] * 99
    found = frequent_phrases(texts)
    assert sorted(found) == [" y ", ", common "]
    assert pieces("7, common 8", found) == ["7", ", common ", "8"]
    assert pieces("7 rare phrase 8", found) == ["7", " ", "rare", " ", "phrase", " ", "8"]


def test_digit_numbers_spell_every_number_and_still_round_trip():
    texts = _texts("countdown", 30)
    tokenizer = build_tokenizer(texts, numbers="digits")
    assert all(str(n) not in tokenizer.get_vocab() for n in (10, 42, 999))
    ids = tokenizer("1183+42=1225", add_special_tokens=False)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["1", "1", "8", "3", "+", "4", "2", "=", "1", "2", "2", "5"]
    for text in texts:
        encoded = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in encoded and tokenizer.decode(encoded) == text
    with pytest.raises(ArborError, match="numbers must be one of"):
        build_tokenizer(texts, numbers="roman")
