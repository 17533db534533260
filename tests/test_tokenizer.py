"""Byte-exact tokenizers: round trip on arbitrary bytes, specials as plain text, clear failures."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seminfo.errors import InputError, ModelMismatchError
from seminfo.models.builtin import builtin_gpt_path, builtin_tokenizer, corpus_path
from seminfo.models.tokenizer import HFTokenizer, bytes_to_unicode, load_tokenizer

tokenizers = pytest.importorskip("tokenizers")


@pytest.fixture(scope="module")
def tok() -> HFTokenizer:
    return HFTokenizer.from_file(builtin_gpt_path() / "tokenizer.json")


def test_byte_table_is_gpt2s():
    table = bytes_to_unicode()
    assert len(table) == 256 and len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "\u0120" and table[0] == "\u0100"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_round_trip_any_bytes(tok, data):
    ids = tok.encode(data)
    assert tok.decode(ids) == data
    assert all(0 <= i < tok.vocab_size for i in ids)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_round_trip_any_text(tok, text):
    assert tok.decode(tok.encode(text)) == text.encode("utf-8", errors="surrogatepass")


def test_valid_utf8_matches_the_tokenizers_library(tok):
    text = corpus_path("valid").read_text(encoding="utf-8")[:20000]
    plain = tokenizers.Tokenizer.from_file(str(builtin_gpt_path() / "tokenizer.json"))
    assert tok.encode(text) == plain.encode(text, add_special_tokens=False).ids


def test_special_token_text_is_ordinary_text(tok):
    ids = tok.encode("a<|endoftext|>b")
    assert 0 not in ids and len(ids) > 3
    assert tok.decode(ids) == b"a<|endoftext|>b"
    assert tok.decode([0]) == b"<|endoftext|>"          # the special token itself decodes to its text
    assert tok.token_str(0) == "<|endoftext|>"


def test_invalid_bytes_are_single_byte_tokens(tok):
    ids = tok.encode(b"ok\xff\xfe")
    chars = bytes_to_unicode()
    assert ids[-2:] == [tok.token_to_id(chars[0xFF]), tok.token_to_id(chars[0xFE])]
    # half of a multi-byte character decodes to exactly its bytes, not to U+FFFD
    assert tok.decode(tok.encode("é".encode()[:1])) == b"\xc3"
    assert tok.token_str(tok.encode(b"\xff")[0]) == "\\xff"


def test_fingerprint_is_sha256_of_canonical_json(tok):
    spec = json.loads(tokenizers.Tokenizer.from_file(str(builtin_gpt_path() / "tokenizer.json")).to_str())
    canon = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert tok.fingerprint() == hashlib.sha256(canon.encode()).hexdigest()
    other = _train_bpe(byte_level=True)
    assert HFTokenizer(other).fingerprint() != tok.fingerprint()


def _train_bpe(*, byte_level: bool, normalizer=None):
    from tokenizers import decoders, models, pre_tokenizers, trainers
    if byte_level:
        t = tokenizers.Tokenizer(models.BPE())
        t.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        t.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
    else:
        t = tokenizers.Tokenizer(models.BPE(unk_token="[UNK]"))
        t.pre_tokenizer = pre_tokenizers.Whitespace()
        alphabet = []
    if normalizer is not None:
        t.normalizer = normalizer
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=alphabet,
                                  special_tokens=["<|endoftext|>", "[UNK]"], show_progress=False)
    t.train_from_iterator(["the quick brown fox jumps over the lazy dog"] * 20, trainer)
    return t


def test_non_exact_tokenizers_raise():
    lower = HFTokenizer(_train_bpe(byte_level=True, normalizer=tokenizers.normalizers.Lowercase()))
    assert lower.decode(lower.encode("the fox")) == b"the fox"
    with pytest.raises(ModelMismatchError, match="does not reproduce the input byte for byte"):
        lower.encode("The Fox")
    words = HFTokenizer(_train_bpe(byte_level=False))
    assert not words.byte_level
    with pytest.raises(ModelMismatchError, match="no single-byte token for byte 0xff"):
        words.encode(b"fox\xff")
    with pytest.raises(ModelMismatchError, match="byte for byte"):
        words.encode("the  fox")                  # whitespace is dropped by this tokenizer


def test_bad_input():
    with pytest.raises(InputError, match="must name a tokenizer.json file"):
        HFTokenizer.from_file("/nonexistent/tokenizer.json")
    with pytest.raises(InputError, match="must be a tokenizers.Tokenizer"):
        HFTokenizer("not a tokenizer")
    tok = HFTokenizer(_train_bpe(byte_level=True))
    with pytest.raises(InputError, match="must be bytes or str"):
        tok.encode(123)
    top = tok.vocab_size - 1
    with pytest.raises(InputError, match=rf"must hold ids in 0\.\.{top}. Got {top + 1}"):
        tok.decode([1, top + 1])
    with pytest.raises(InputError, match=rf"must hold ids in 0\.\.{top}. Got -1"):
        tok.decode([1, -1])


def test_load_tokenizer_dispatch(tok):
    assert load_tokenizer(tok) is tok
    assert builtin_tokenizer().fingerprint() == tok.fingerprint()
    assert load_tokenizer(builtin_gpt_path()).fingerprint() == tok.fingerprint()
    from transformers import PreTrainedTokenizerFast
    fast = PreTrainedTokenizerFast(tokenizer_file=str(builtin_gpt_path() / "tokenizer.json"))
    assert load_tokenizer(fast).encode("x<|endoftext|>") == tok.encode("x<|endoftext|>")
