"""Byte-exact wrappers of Hugging Face `tokenizers` (byte-level BPE and, checked, everything else).

:class:`HFTokenizer` turns a ``tokenizers.Tokenizer`` (the engine behind every Hugging Face "fast"
tokenizer: GPT-2, the builtin GPT, SmolLM2/Llama-3 style byte-level BPE) into a
:class:`~seminfo.models.base.Tokenizer` for which ``decode(encode(b)) == b`` holds for ANY bytes:

* **decoding** goes through a precomputed table id -> bytes, built from the byte-level
  unicode-to-byte map of GPT-2 (Radford et al. 2019, ``bytes_to_unicode``), never through ``str``,
  so tokens that hold half of a UTF-8 character decode to exactly their bytes;
* **encoding** sends each maximal valid UTF-8 run to the tokenizer and every invalid byte to its
  single-byte token (the 256 byte-level characters are in every byte-level BPE vocabulary; for
  SentencePiece-style vocabularies with byte fallback the ``<0xNN>`` tokens are used);
* **special tokens in the text are not parsed**: ``"<|endoftext|>"`` in the input encodes as
  ordinary tokens (``encode_special_tokens``), so a document cannot forge a control token;
* every encoding is checked: if the tokens do not decode to the input (a normaliser, a Metaspace
  prefix space, an unknown character) a :class:`~seminfo.errors.ModelMismatchError` says so,
  instead of silently scoring other bytes than those given.

Sources: [1] A. Radford et al., "Language Models are Unsupervised Multitask Learners", 2019
(byte-level BPE). [2] Hugging Face `tokenizers` documentation (``Tokenizer.encode_special_tokens``).

Leaves out: slow (pure-python) tokenizers and tiktoken; wrap their fast equivalents instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pathlib
import re
from typing import Any, Sequence

from ..errors import InputError, ModelMismatchError
from .base import Tokenizer

__all__ = ["HFTokenizer", "bytes_to_unicode", "load_tokenizer", "encode_escaped", "decode_escaped",
           "ESCAPE_BITS", "ESCAPE_PROB_BITS", "ESCAPE_FEED_ID"]

_BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")
_INVALID = re.compile("([\udc80-\udcff])")


@functools.lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table of byte-level BPE [1].

    Printable Latin-1 bytes map to themselves; the 68 others to ``chr(256 + i)`` in byte order.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1),
            *range(ord("\xae"), ord("\xff") + 1)]
    extra = [b for b in range(256) if b not in keep]
    return {**{b: chr(b) for b in keep}, **{b: chr(256 + i) for i, b in enumerate(extra)}}


def _has_type(node: Any, name: str) -> bool:
    """True if a tokenizer.json component (possibly a Sequence) contains a part of type `name`."""
    if isinstance(node, dict):
        return node.get("type") == name or any(_has_type(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_has_type(v, name) for v in node)
    return False


class HFTokenizer(Tokenizer):
    """Byte-exact wrapper of a ``tokenizers.Tokenizer``.

    Parameters
    ----------
    backend : tokenizers.Tokenizer
        The tokenizer; it is copied, so the caller's object is not modified.

    Attributes
    ----------
    vocab_size : int
        Number of ids, added tokens included.
    byte_level : bool
        True for byte-level BPE (exact for all bytes); False for other schemes, which are
        checked on every call to :meth:`encode`.
    """

    def __init__(self, backend: Any):
        from tokenizers import Tokenizer as _Backend
        if not isinstance(backend, _Backend):
            raise InputError("The `backend` parameter of HFTokenizer must be a tokenizers.Tokenizer. "
                             f"Got {type(backend).__name__}.")
        text = backend.to_str()
        spec = json.loads(text)
        self._canonical = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        tok = _Backend.from_str(text)
        tok.no_truncation()
        tok.no_padding()
        tok.encode_special_tokens = True            # "<|endoftext|>" in the text is plain text
        self._tok = tok
        self.vocab_size = int(tok.get_vocab_size(with_added_tokens=True))
        self.byte_level = _has_type(spec.get("pre_tokenizer"), "ByteLevel") or \
            _has_type(spec.get("decoder"), "ByteLevel")
        self._table = self._byte_table()
        self._byte_ids = self._single_byte_ids()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "HFTokenizer":
        """Load a ``tokenizer.json`` file (or a directory holding one)."""
        from tokenizers import Tokenizer as _Backend
        p = pathlib.Path(path)
        if p.is_dir():
            p = p / "tokenizer.json"
        if not p.is_file():
            raise InputError(f"The `path` parameter of HFTokenizer.from_file must name a tokenizer.json "
                             f"file or a directory holding one. Got {str(path)!r}, which has none.")
        try:
            return cls(_Backend.from_file(str(p)))
        except Exception as exc:          # tokenizers raises its own Exception subclass
            raise InputError(f"The file {str(p)!r} is not a valid tokenizer.json ({exc}).") from None

    @classmethod
    def from_hf(cls, hf_tokenizer: Any) -> "HFTokenizer":
        """Wrap a transformers fast tokenizer (its ``backend_tokenizer``)."""
        backend = getattr(hf_tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise InputError("The `hf_tokenizer` parameter of HFTokenizer.from_hf must be a fast "
                             f"tokenizer (with `backend_tokenizer`). Got {type(hf_tokenizer).__name__}; "
                             "load it with use_fast=True or convert it to tokenizer.json.")
        return cls(backend)

    def _byte_table(self) -> list[bytes]:
        """Bytes of every id: byte-level characters mapped back, specials as literal text."""
        inverse = {c: b for b, c in bytes_to_unicode().items()}
        table = [b""] * self.vocab_size
        for piece, i in self._tok.get_vocab(with_added_tokens=True).items():
            if i >= self.vocab_size:
                continue
            m = _BYTE_FALLBACK.match(piece)
            if self.byte_level and all(c in inverse for c in piece):
                table[i] = bytes(inverse[c] for c in piece)
            elif not self.byte_level and m:
                table[i] = bytes([int(m.group(1), 16)])
            elif not self.byte_level:
                table[i] = piece.replace("\u2581", " ").encode("utf-8")   # SentencePiece space
            else:
                table[i] = piece.encode("utf-8")                           # added/special tokens
        return table

    def _single_byte_ids(self) -> dict[int, int]:
        """Byte value -> id of its single-byte token (for bytes that are not valid UTF-8)."""
        vocab = self._tok.get_vocab(with_added_tokens=False)
        if self.byte_level:
            chars = bytes_to_unicode()
            return {b: vocab[c] for b, c in chars.items() if c in vocab}
        return {b: vocab[f"<0x{b:02X}>"] for b in range(256) if f"<0x{b:02X}>" in vocab}

    # ------------------------------------------------------------------ Tokenizer
    def encode(self, data: bytes | str) -> list[int]:
        """Token ids of `data`: valid UTF-8 runs through the tokenizer, invalid bytes as byte tokens.

        Raises ModelMismatchError when the tokens do not decode back to `data` exactly.
        """
        if isinstance(data, str):
            from .._validate import utf8_bytes
            raw = utf8_bytes(data, "data", "HFTokenizer.encode")    # a lone surrogate: InputError
        elif isinstance(data, (bytes, bytearray, memoryview)):
            raw = bytes(data)
        else:
            raise InputError(f"The `data` parameter of HFTokenizer.encode must be bytes or str. "
                             f"Got {type(data).__name__}.")
        ids: list[int] = []
        # invalid bytes become lone surrogates U+DC80..U+DCFF; split the text around them
        parts = _INVALID.split(raw.decode("utf-8", errors="surrogateescape"))
        pos = 0
        for k, part in enumerate(parts):
            if k % 2 == 0:                                   # a valid UTF-8 run
                if part:
                    ids += self._tok.encode(part, add_special_tokens=False).ids
                    pos += len(part.encode("utf-8"))
                continue
            bad = ord(part) - 0xDC00
            if bad not in self._byte_ids:
                raise ModelMismatchError(
                    f"The tokenizer has no single-byte token for byte 0x{bad:02x} at offset {pos}, "
                    "which is not valid UTF-8; it cannot encode arbitrary bytes. Use a byte-level "
                    "BPE tokenizer or pass valid UTF-8 text.")
            ids.append(self._byte_ids[bad])
            pos += 1
        out = self.decode(ids)
        if out != raw:
            first = next((k for k, (a, b) in enumerate(zip(out, raw)) if a != b), min(len(raw), len(out)))
            missing = sorted(set(raw) - set(self._byte_ids)) if self.byte_level else []
            listed = ", ".join(f"0x{b:02x}" for b in missing[:8])
            why = f"its vocabulary has no token for the byte(s) {listed}" if missing \
                else "it normalises or drops text"
            raise ModelMismatchError(
                "The tokenizer does not reproduce the input byte for byte (first difference at byte "
                f"{first}): {why}, so the model would score other bytes than those given. Use a "
                "tokenizer whose vocabulary covers all 256 bytes for exact scoring.")
        return ids

    def decode(self, ids: Sequence[int]) -> bytes:
        """Bytes of the ids, through the id -> bytes table (no detour through str)."""
        table = self._table
        ids = [int(i) for i in ids]
        try:
            if ids and min(ids) < 0:
                raise IndexError
            return b"".join([table[i] for i in ids])
        except IndexError:
            bad = next(i for i in ids if not 0 <= i < self.vocab_size)
            raise InputError(f"The `ids` parameter of HFTokenizer.decode must hold ids in "
                             f"0..{self.vocab_size - 1}. Got {bad}.") from None

    def token_bytes(self, token_id: int) -> bytes:
        """Bytes of one token (special tokens give their literal text)."""
        return self.decode([token_id])

    def fingerprint(self) -> str:
        """sha256 of the canonical tokenizer JSON (keys sorted, no whitespace)."""
        return hashlib.sha256(self._canonical.encode("utf-8")).hexdigest()

    def token_to_id(self, piece: str) -> int | None:
        """Id of a token given by its vocabulary string (e.g. ``"<|endoftext|>"``), or None."""
        return self._tok.token_to_id(piece)

    def __repr__(self) -> str:
        kind = "byte-level BPE" if self.byte_level else "checked"
        return f"HFTokenizer(vocab_size={self.vocab_size}, {kind})"


def load_tokenizer(source: Any) -> Tokenizer:
    """A byte-exact seminfo Tokenizer from a path, a ``tokenizers.Tokenizer`` or an HF fast tokenizer.

    A seminfo :class:`~seminfo.models.base.Tokenizer` is returned unchanged.
    """
    if isinstance(source, Tokenizer):
        return source
    if isinstance(source, (str, os.PathLike)):
        return HFTokenizer.from_file(source)
    if hasattr(source, "backend_tokenizer"):
        return HFTokenizer.from_hf(source)
    return HFTokenizer(source)


# ------------------------------------------------------------------ the escape (any bytes, any model)
#: Probability given to the escape symbol in a block that needs it: 2**-ESCAPE_PROB_BITS.
ESCAPE_PROB_BITS = 10
#: Bits charged for one escaped byte: the escape symbol (ESCAPE_PROB_BITS) plus the byte, uniform (8).
ESCAPE_BITS = float(ESCAPE_PROB_BITS + 8)
#: Token id fed to the model in place of an escaped byte, so that the context advances by one.
ESCAPE_FEED_ID = 0

_UNITS = re.compile(r"[\udc80-\udcff]|[^\udc80-\udcff]", re.S)


def encode_escaped(tokenizer: Tokenizer, data: bytes) -> list[int]:
    """Tokens of `data` where the tokenizer can represent it, escaped bytes elsewhere.

    Every byte sequence gets a symbol sequence, whatever the tokenizer's vocabulary: the tokenizer's
    own encoding when it gives the bytes back exactly (the usual case: no escape), else the data is
    cut into units (a UTF-8 character, or one byte that is not valid UTF-8), a unit the tokenizer
    cannot give back by itself is *escaped* byte by byte, and each maximal run of representable units
    is encoded as one piece. An escaped byte ``b`` is returned as the negative symbol ``-1 - b``.
    The coder (:mod:`seminfo.coding`) codes it as an escape symbol of probability
    ``2**-ESCAPE_PROB_BITS`` followed by the byte, uniform (8 bits); scoring charges it
    :data:`ESCAPE_BITS`. Both feed :data:`ESCAPE_FEED_ID` to the model in its place.

    Parameters
    ----------
    tokenizer : Tokenizer
    data : bytes

    Returns
    -------
    list of int
        Token ids (>= 0) and escaped bytes (< 0); :func:`decode_escaped` gives `data` back.
    """
    data = bytes(data)
    try:
        ids = [int(i) for i in tokenizer.encode(data)]
        if tokenizer.decode(ids) == data:
            return ids
    except ModelMismatchError:
        pass
    ok: dict[str, bool] = {}

    def representable(unit: str) -> bool:
        if unit not in ok:
            raw = unit.encode("utf-8", "surrogateescape")
            try:
                ok[unit] = tokenizer.decode(tokenizer.encode(raw)) == raw
            except ModelMismatchError:
                ok[unit] = False
        return ok[unit]

    out: list[int] = []
    run: list[str] = []

    def flush() -> None:
        if not run:
            return
        raw = "".join(run).encode("utf-8", "surrogateescape")
        try:
            ids = [int(i) for i in tokenizer.encode(raw)]
            good = tokenizer.decode(ids) == raw
        except ModelMismatchError:
            good = False
        if not good:                                    # context-dependent rules: unit by unit
            ids = [int(i) for u in run for i in tokenizer.encode(u.encode("utf-8", "surrogateescape"))]
        out.extend(ids)
        run.clear()

    for unit in _UNITS.findall(data.decode("utf-8", errors="surrogateescape")):
        if representable(unit):
            run.append(unit)
        else:
            flush()
            out.extend(-1 - b for b in unit.encode("utf-8", "surrogateescape"))
    flush()
    if decode_escaped(tokenizer, out) != data:
        raise ModelMismatchError("The tokenizer does not give back the input byte for byte even with "
                                 "escaped bytes (its decoding of a sequence is not the concatenation "
                                 "of its pieces); it cannot be used here.")
    return out


def decode_escaped(tokenizer: Tokenizer, symbols: Sequence[int]) -> bytes:
    """Inverse of :func:`encode_escaped`: token ids decoded, escaped bytes (< 0) as themselves."""
    parts: list[bytes] = []
    run: list[int] = []
    for s in symbols:
        s = int(s)
        if s >= 0:
            run.append(s)
            continue
        if run:
            parts.append(tokenizer.decode(run))
            run = []
        parts.append(bytes([-1 - s]))
    if run:
        parts.append(tokenizer.decode(run))
    return b"".join(parts)
