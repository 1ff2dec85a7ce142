"""The task tokenizer round-trips every trace exactly and loads back with AutoTokenizer."""

import pytest
from transformers import AutoTokenizer

from arborlab.errors import ArborError
from arborlab.tasks import get_task, task_names
from arborlab.tokenizer import build_tokenizer, frequent_phrases, pieces


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
    assert pieces("3234+5") == ["3", "234", "+", "5"]
    assert pieces("<think>\n12*3=36, left 36</think>") == [
        "<think>", "\n", "12", "*", "3", "=", "36", ",", " ", "left", " ", "36", "</think>"
    ]


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
