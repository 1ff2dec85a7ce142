"""The task tokenizer: a word-level `PreTrainedTokenizerFast` that round-trips traces exactly.

Pieces are the trace tags, integers 0–999 (one token each), frequent phrases, words, single
spaces, newlines and single symbols. A phrase is a stretch of text without digits or newlines that recurs between numbers in
the texts the tokenizer is built from (``", left "``, ``"back to "``): one token instead of three to
five, so traces are about a third shorter (countdown-3 search: 36%) and a model's step lines are more regular. Newlines stay
tokens of their own, so a step always ends at the newline token.

The decoder fuses pieces back without adding spaces, so ``decode(encode(text)) == text`` for any
text whose pieces are in the vocabulary; that exactness is what lets a model's sampled tokens be
graded. The vocabulary is the special tokens, the trace tags, every number piece (`number_pieces`)
and every piece seen in the texts. ``AutoTokenizer.from_pretrained(folder)`` loads it back.

Numbers of 1,000 and more ("whole" style) are their leading digits, one token each and marked as
leading (the piece ``7`` plus a mark, a token of its own), then their last three digits (``686``, or
``081`` for 1081). So every integer encodes without ``<unk>``, and the first token of a big number
is never the token of the number its digit spells. (It was meant to stop a toy model derailing
after writing such a digit; on the demo it did not measurably, see the README.) The tokenizer's
normalizer inserts the mark (a private-use character no task writes) and its decoder drops it, so
text round-trips unchanged.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from arborlab.errors import ArborError
from arborlab.text import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
TRACE_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
# one piece: a tag, a number (how numbers split depends on the style), a word, one whitespace
# character, or one other character
#: marks a leading digit of a number of 1,000 or more (a private-use character: no text holds it)
LEADING_MARK = "\ue000"
# between two digits of a number with at least three more digits after the second: a leading digit ends there
_LEADING_DIGIT_END = r"(?<=\d)(?=\d{3})"
# numbers: 0-999 whole (after the marking, no run of digits is longer), leading digits; or single digits
_NUMBER_PIECES = {"whole": rf"\d{LEADING_MARK}|\d{{1,3}}", "digits": r"\d"}
NUMBER_STYLES = ("whole", "digits")  # one token per integer 0-999, or one per digit
# what separates the candidate phrases: numbers, tags and newlines
_GAP_SPLIT = re.compile(r"\d+|</?think>|</?answer>|\n")
MAX_PHRASES = 256


def piece_pattern(phrases: Sequence[str] = (), numbers: str = "whole") -> str:
    """The splitting regex: the tags, then `phrases` (longest first), then the base pieces."""
    ordered = sorted(set(phrases), key=lambda p: (-len(p), p))
    return "|".join(["</?think>|</?answer>", *map(re.escape, ordered), _NUMBER_PIECES[numbers], r"[A-Za-z_]+|\s|[^\sA-Za-z0-9]"])


def _splitter(phrases: Sequence[str] = (), numbers: str = "whole") -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Split(Regex(piece_pattern(phrases, numbers)), behavior="isolated")


def _normalizer(numbers: str) -> normalizers.Normalizer | None:
    """"whole" numbers: marks each leading digit of a number of 1,000 or more (7686 -> 7\ue000686)."""
    return normalizers.Replace(Regex(_LEADING_DIGIT_END), LEADING_MARK) if numbers == "whole" else None


def pieces(text: str, phrases: Sequence[str] = (), numbers: str = "whole") -> list[str]:
    """The pieces `text` splits into (before mapping to ids), given the tokenizer's phrases."""
    return _split(text, _normalizer(numbers), _splitter(phrases, numbers))


def _split(text: str, normalizer: normalizers.Normalizer | None, splitter: pre_tokenizers.PreTokenizer) -> list[str]:
    text = normalizer.normalize_str(text) if normalizer else text
    return [piece for piece, _ in splitter.pre_tokenize_str(text)]


def number_pieces(numbers: str) -> list[str]:
    """The number pieces every vocabulary holds: "whole": 0-999, each leading digit marked, and the
    last three digits of longer numbers when they begin with 0 (000-099); "digits": 0-9."""
    if numbers == "digits":
        return [str(d) for d in range(10)]
    return [*map(str, range(1000)), *(f"{d}{LEADING_MARK}" for d in range(10)), *(f"{n:03d}" for n in range(100))]


def frequent_phrases(texts: Sequence[str], min_share: float = 0.01, limit: int = MAX_PHRASES) -> list[str]:
    """Stretches of at least two characters between numbers, tags and newlines that occur in at
    least `min_share` of `texts` (and at least twice), most frequent first, at most `limit`."""
    counts = Counter()
    for text in texts:
        counts.update({gap for gap in _GAP_SPLIT.split(text) if len(gap) >= 2})
    least = max(2, min_share * len(texts))
    return [gap for gap, count in counts.most_common(limit) if count >= least]


def build_tokenizer(texts: Iterable[str], numbers: str = "whole") -> PreTrainedTokenizerFast:
    """A tokenizer whose vocabulary covers every piece of `texts` plus all integers 0–999 ("whole"
    numbers) or all digits ("digits": every number is spelled digit by digit)."""
    if numbers not in NUMBER_STYLES:
        raise ArborError(f"numbers must be one of {', '.join(NUMBER_STYLES)}, got '{numbers}'.")
    texts = list(texts)
    phrases = frequent_phrases(texts)
    normalizer, splitter = _normalizer(numbers), _splitter(phrases, numbers)
    seen = Counter(piece for text in texts for piece in _split(text, normalizer, splitter))
    fixed = [PAD, BOS, EOS, UNK, *TRACE_TAGS, *number_pieces(numbers)]
    fixed_set = set(fixed)
    vocabulary = fixed + sorted(piece for piece in seen if piece not in fixed_set)
    core = Tokenizer(models.WordLevel({piece: index for index, piece in enumerate(vocabulary)}, unk_token=UNK))
    if normalizer:
        core.normalizer = normalizer
    core.pre_tokenizer = splitter
    core.decoder = decoders.Sequence([decoders.Replace(LEADING_MARK, ""), decoders.Fuse()])
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
