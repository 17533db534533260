"""The archive container: its fields, and every truncation, bit flip and extension is rejected."""

from __future__ import annotations

import base64
import hashlib
import struct
import zlib

import numpy as np

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seminfo.coding import compress as compress_best
from seminfo.coding import decompress, read_header
from seminfo.coding.container import FORMAT_VERSION, MAGIC, pack, varint
from seminfo.errors import ArchiveError
from test_coding import BOS, TEXT, ByteTokenizer, MarkovBytes
from seminfo.models.base import ModelState, TokenModel

MODEL = MarkovBytes(seed=7, max_context=40)
DATA = TEXT[:180] + b"\x00\xff\xfe"
ARCHIVE = compress_best(DATA, MODEL, blocks=2, methods="model").archive


def _varint_at(a: bytes, pos: int) -> tuple[int, int]:
    n, shift = 0, 0
    while True:
        b = a[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def test_header_fields_are_where_the_docs_say():
    a = ARCHIVE
    assert a[:8] == MAGIC == b"SEMINFOZ"
    (version,) = struct.unpack_from("<H", a, 8)
    coder, flags = a[10], a[11]
    assert (version, coder) == (FORMAT_VERSION, 1) == (2, 1)
    assert flags == 4 | 2                              # model identity + machine signature (float path)
    assert a[12:44] == hashlib.sha256(DATA).digest()
    pos = 44
    fields = []
    for _ in range(5):
        v, pos = _varint_at(a, pos)
        fields.append(v)
    assert fields == [len(DATA), 40, 19, 2, 2]         # length, window, keep, batch, blocks
    n_fp = a[pos]
    assert a[pos + 1:pos + 1 + n_fp].hex() == MODEL.fingerprint() and n_fp == 32
    pos += 1 + n_fp
    n_sp, pos = _varint_at(a, pos)
    assert a[pos:pos + n_sp] == b"test:markov"
    pos += n_sp
    n_mc, pos = _varint_at(a, pos)
    assert a[pos:pos + n_mc].decode().startswith("numpy=")
    pos += n_mc
    rows = []
    for _ in range(2):
        method = a[pos]
        n_bytes, pos = _varint_at(a, pos + 1)
        n_payload, pos = _varint_at(a, pos)
        n_sym, pos = _varint_at(a, pos)
        (crc,) = struct.unpack_from("<I", a, pos)
        pos += 4
        rows.append((method, n_bytes, n_payload, n_sym, crc))
    assert [r[0] for r in rows] == [1, 1] and [r[1] for r in rows] == [92, 91] == [r[3] for r in rows]
    assert struct.unpack_from("<I", a, pos)[0] == zlib.crc32(a[:pos])
    pos += 4
    assert pos + rows[0][2] + rows[1][2] == len(a)
    assert zlib.crc32(a[pos:pos + rows[0][2]]) == rows[0][4]
    h = read_header(a)
    assert h.header_bytes == pos and h.spec == "test:markov" and h.sha256 == hashlib.sha256(DATA).hexdigest()
    assert h.payload_bytes == rows[0][2] + rows[1][2] and not h.portable and h.machine


def test_varint_is_leb128():
    assert [varint(n) for n in (0, 1, 127, 128, 300, 2**64 - 1)] == [
        b"\x00", b"\x01", b"\x7f", b"\x80\x01", b"\xac\x02", b"\xff" * 9 + b"\x01"]


def test_pack_read_round_trip_without_a_model():
    a = pack(data=b"xyz", window=0, keep=0, batch_size=3, fingerprint="ab" * 32, spec="builtin:ngram ✓",
             blocks=[("model", 2, 2, b"\x01\x02\x03\x04"), ("raw", 1, 0, b"z")], portable=True)
    h = read_header(a)
    assert (h.original_length, h.window, h.batch_size, h.spec, h.portable) == (3, 0, 3, "builtin:ngram ✓", True)
    assert [(b.method, b.original_bytes, b.tokens, b.payload_bytes) for b in h.blocks] == [
        ("model", 2, 2, 4), ("raw", 1, 0, 1)]
    assert h.fingerprint == "ab" * 32 and h.machine == ""


def test_an_archive_without_model_blocks_has_a_small_fixed_header():
    """Several blocks without a model (format 2) cost 8 magic + 2 version + 2 coder/flags + 8 bytes of
    sha256 + 2 varints (length, blocks; no window, keep or batch without a model) + one entry per block
    (method, 2 varints, crc32) + 4 header crc32. One such block takes the compact form (format 3):
    4 magic + method + 2 length varints + one crc32, 11 bytes for a 100-byte block."""
    data = bytes(range(100))
    two = pack(data=data, window=0, keep=0, batch_size=1, fingerprint="", spec="",
               blocks=[("raw", 50, 0, data[:50]), ("raw", 50, 0, data[50:])])
    assert len(two) - len(data) == 8 + 2 + 2 + 8 + 2 + 2 * (1 + 1 + 1 + 4) + 4 == 40
    assert read_header(two).version == 2 and decompress(two) == data
    one = pack(data=data, window=0, keep=0, batch_size=1, fingerprint="", spec="",
               blocks=[("raw", 100, 0, data)])
    assert len(one) - len(data) == 4 + 1 + 1 + 1 + 4 == 11
    assert read_header(one).version == 3 and decompress(one) == data      # no model named, none needed


def _compact_archives():
    from seminfo.coding.methods import standard_payloads
    data = (b"compact archives hold one block that needs no model. " * 30) + bytes(range(256))
    return data, {m: pack(data=data, window=0, keep=0, batch_size=1, fingerprint="", spec="",
                          blocks=[(m, len(data), 0, p)]) for m, p in standard_payloads(data).items()}


def test_compact_archives_round_trip_and_reject_every_damage():
    """raw, zstd and xz in the compact form: they decode, and every truncation, extension and single-bit
    flip is an ArchiveError, never wrong bytes (the crc32 of the original bytes catches what the
    payload's own decoder lets through)."""
    data, archives = _compact_archives()
    assert set(archives) == {"raw", "zstd", "xz"}
    for method, a in archives.items():
        h = read_header(a)
        assert (h.version, h.blocks[0].method, h.original_length) == (3, method, len(data))
        assert decompress(a) == data and h.matches(data) and not h.matches(data[:-1] + b"?")
        for n in range(len(a)):
            with pytest.raises(ArchiveError):
                decompress(a[:n])
        with pytest.raises(ArchiveError):
            decompress(a + b"\x00")
        for i in range(min(len(a), 48)):
            for bit in (0, 5):
                damaged = bytearray(a)
                damaged[i] ^= 1 << bit
                with pytest.raises(ArchiveError):
                    decompress(bytes(damaged))
    assert len(archives["zstd"]) < len(archives["raw"])


def test_a_compact_zstd_archive_is_a_few_bytes_from_zstd_alone():
    from seminfo.coding.baselines import COMPRESSORS
    data, archives = _compact_archives()
    alone = len(COMPRESSORS["zstd -19"](data))
    assert len(archives["zstd"]) - alone <= 8


class NextByte(TokenModel):
    """All mass on (previous byte + 1) mod 256 (log p = 0, others -inf): exact in any arithmetic,
    so an archive of it decodes on every machine (the fixture below)."""

    vocab_size = 257
    name = "test:nextbyte"
    prefix = (BOS,)
    max_context = 16

    def __init__(self):
        self.tokenizer = ByteTokenizer()

    def _lp(self, last):
        out = np.full((len(last), 257), -np.inf)
        out[np.arange(len(last)), (np.where(last == BOS, 96, last) + 1) % 256] = 0.0
        return out

    def next_log_probs(self, ids, *, prefix=True):
        raise AssertionError

    def begin(self, batch_size=1):
        last = np.full(batch_size, BOS)
        return ModelState(log_probs=self._lp(last), length=1, cache=last)

    def feed(self, state, ids):
        ids = np.asarray(ids, dtype=np.int64)
        out = np.stack([self._lp(ids[:, t]) for t in range(ids.shape[1])], axis=1)
        return ModelState(log_probs=out[:, -1], length=state.length + ids.shape[1], cache=ids[:, -1]), out

    def fingerprint(self):
        return hashlib.sha256(b"nextbyte").hexdigest()


#: A version-1 archive made on 2026-12-04 by seminfo's compress (format version 1) with NextByte,
#: blocks=2, window 16: old archives still decode.
V1_ARCHIVE = base64.b64decode(
    "U0VNSU5GT1oBAAEAJwAAAAAAAAACvjaFw9GDXe1lOzSbYlb57WcLWILoAGEzwUox6EImThAAAAAHAAAAAgAAAAIAAABAADQ1MGU4OGIyNDMyYjdjNzI0NmZjY2UwYzNmMTUzNWQyMTVkMzM3NzZhYjBmOTlhYzhjMTFiZGU3YjY0NmM5MjgNAHRlc3Q6bmV4dGJ5dGUUAAAAAAAAABQAAAAAAAAABAAAAAAAAADAGOuREwAAAAAAAAATAAAAAAAAACAAAAAAAAAAcOw5i5KyjxuvUQgAAHT//5PpagNl+gVnBWsD/L37bNIftAVu/wDA/hQA/vU=")
V1_DATA = b"abcdefghijklmnopqrstuvwxyz{|}~ hello \x00\xff"


def test_a_version_1_archive_still_decodes():
    h = read_header(V1_ARCHIVE)
    assert h.version == 1 and not h.portable and h.machine == ""
    assert [b.method for b in h.blocks] == ["model", "model"] and h.window == 16
    assert decompress(V1_ARCHIVE, NextByte()) == V1_DATA
    damaged = bytearray(V1_ARCHIVE)
    damaged[-1] ^= 1
    with pytest.raises(ArchiveError):
        decompress(bytes(damaged), NextByte())


def test_every_truncation_is_rejected():
    for n in range(len(ARCHIVE)):
        with pytest.raises(ArchiveError):
            decompress(ARCHIVE[:n], MODEL)


def test_every_single_bit_flip_is_rejected():
    for i in range(len(ARCHIVE)):
        for bit in (0, 3, 7):
            damaged = bytearray(ARCHIVE)
            damaged[i] ^= 1 << bit
            with pytest.raises(ArchiveError):
                decompress(bytes(damaged), MODEL)


@given(extra=st.binary(min_size=1, max_size=64))
@settings(max_examples=30, deadline=None)
def test_extended_archives_are_rejected(extra):
    with pytest.raises(ArchiveError, match="unexpected bytes after its last block"):
        decompress(ARCHIVE + extra, MODEL)


@given(pos=st.integers(0, len(ARCHIVE) - 1), junk=st.binary(min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_overwritten_bytes_never_give_wrong_output(pos, junk):
    damaged = bytearray(ARCHIVE)
    damaged[pos:pos + len(junk)] = junk
    damaged = bytes(damaged[:len(ARCHIVE)])
    if damaged == ARCHIVE:
        assert decompress(damaged, MODEL) == DATA
    else:
        with pytest.raises(ArchiveError):
            decompress(damaged, MODEL)


@pytest.mark.parametrize("mutate,match", [
    (lambda a: b"NOTANARC" + a[8:], "This is not a seminfo archive"),
    (lambda a: a[:8] + struct.pack("<H", 3) + a[10:], "format version 3, which this seminfo does not read"),
    (lambda a: b"", "The archive is truncated: it ends at byte 0 inside the magic number"),
    (lambda a: a[:40], "The archive is truncated"),
    (lambda a: a[:-1], "The archive is truncated: it has"),
    (lambda a: a[:100] + bytes([a[100] ^ 1]) + a[101:], "header is corrupted|corrupted"),
    (lambda a: a[:-2] + bytes([a[-2] ^ 4]) + a[-1:], "Block 1 of the archive is corrupted"),
])
def test_error_messages(mutate, match):
    with pytest.raises(ArchiveError, match=match):
        decompress(mutate(ARCHIVE), MODEL)


def test_unknown_coder_is_rejected():
    a = bytearray(ARCHIVE)
    a[10] = 9
    h = read_header(ARCHIVE)
    crc_at = h.header_bytes - 4
    a[crc_at:crc_at + 4] = struct.pack("<I", zlib.crc32(bytes(a[:crc_at])))
    with pytest.raises(ArchiveError, match="uses coder 9"):
        decompress(bytes(a), MODEL)


def test_empty_input_archive_needs_no_model():
    a = compress_best(b"", MODEL).archive
    assert read_header(a).blocks == ()
    assert decompress(a) == b""          # no block: the (non built-in) model is never loaded
