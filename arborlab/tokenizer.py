"""The task tokenizer: a word-level `PreTrainedTokenizerFast` that round-trips traces exactly.

Pieces are the trace tags, integers 0–999 (one token each; longer numbers split into single digits
followed by their last three digits), words, single spaces, newlines and single symbols. The decoder
fuses pieces back without adding spaces, so ``decode(encode(text)) == text`` for any text whose
pieces are in the vocabulary; that exactness is what lets a model's sampled tokens be graded.

The vocabulary is the special tokens, the trace tags, every integer 0–999 and every piece seen in
the texts it is built from. ``AutoTokenizer.from_pretrained(folder)`` loads it back.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from arborlab.text import ANSWER_CLOSE, ANSWER_OPEN, THINK_CLOSE, THINK_OPEN

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
TRACE_TAGS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
# one piece: a tag, a number of at most 3 digits (or one leading digit of a longer number), a word,
# one whitespace character, or one other character
PIECE_PATTERN = r"</?think>|</?answer>|\d{1,3}(?!\d)|\d|[A-Za-z_]+|\s|[^\sA-Za-z0-9]"


def _splitter() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Split(Regex(PIECE_PATTERN), behavior="isolated")


def pieces(text: str) -> list[str]:
    """The pieces `text` splits into (before mapping to ids)."""
    return [piece for piece, _ in _splitter().pre_tokenize_str(text)]


def build_tokenizer(texts: Iterable[str]) -> PreTrainedTokenizerFast:
    """A tokenizer whose vocabulary covers every piece of `texts` plus all integers 0–999."""
    seen = Counter(piece for text in texts for piece in pieces(text))
    fixed = [PAD, BOS, EOS, UNK, *TRACE_TAGS, *map(str, range(1000))]
    fixed_set = set(fixed)
    vocabulary = fixed + sorted(piece for piece in seen if piece not in fixed_set)
    core = Tokenizer(models.WordLevel({piece: index for index, piece in enumerate(vocabulary)}, unk_token=UNK))
    core.pre_tokenizer = _splitter()
    core.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        unk_token=UNK,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
