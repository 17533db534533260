"""The archive container: its fields, and every truncation, bit flip and extension is rejected."""

from __future__ import annotations

import hashlib
import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seminfo.coding import compress, decompress, read_header
from seminfo.coding.container import FORMAT_VERSION, MAGIC, pack
from seminfo.errors import ArchiveError
from test_coding import TEXT, MarkovBytes

MODEL = MarkovBytes(seed=7, max_context=40)
DATA = TEXT[:180] + b"\x00\xff\xfe"
ARCHIVE = compress(DATA, MODEL, blocks=2).archive


def test_header_fields_are_where_the_docs_say():
    a = ARCHIVE
    assert a[:8] == MAGIC == b"SEMINFOZ"
    version, coder, length = struct.unpack_from("<HHQ", a, 8)
    assert (version, coder, length) == (FORMAT_VERSION, 1, len(DATA))
    assert a[20:52] == hashlib.sha256(DATA).digest()
    window, keep, batch, n_blocks = struct.unpack_from("<IIII", a, 52)
    assert (window, keep, batch, n_blocks) == (40, 19, 2, 2)
    (n_fp,) = struct.unpack_from("<H", a, 68)
    assert a[70:70 + n_fp].decode() == MODEL.fingerprint()
    (n_sp,) = struct.unpack_from("<H", a, 70 + n_fp)
    pos = 72 + n_fp
    assert a[pos:pos + n_sp] == b"test:markov"
    pos += n_sp
    rows = [struct.unpack_from("<QQQI", a, pos + 28 * i) for i in range(2)]
    assert [r[0] for r in rows] == [92, 91] and [r[1] for r in rows] == [92, 91]
    pos += 56
    assert struct.unpack_from("<I", a, pos)[0] == zlib.crc32(a[:pos])
    pos += 4
    assert pos + rows[0][2] + rows[1][2] == len(a)
    assert zlib.crc32(a[pos:pos + rows[0][2]]) == rows[0][3]
    h = read_header(a)
    assert h.header_bytes == pos and h.spec == "test:markov" and h.sha256 == hashlib.sha256(DATA).hexdigest()
    assert h.payload_bytes == rows[0][2] + rows[1][2]


def test_pack_read_round_trip_without_a_model():
    a = pack(data=b"xyz", window=0, keep=0, batch_size=3, fingerprint="ab" * 32, spec="builtin:ngram ✓",
             blocks=[(2, 2, b"\x01\x02\x03\x04"), (1, 1, b"")])
    h = read_header(a)
    assert (h.original_length, h.window, h.batch_size, h.spec) == (3, 0, 3, "builtin:ngram ✓")
    assert [(b.original_bytes, b.tokens, b.payload_bytes) for b in h.blocks] == [(2, 2, 4), (1, 1, 0)]


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
    (lambda a: a[:8] + struct.pack("<H", 2) + a[10:], "format version 2, which this seminfo does not read"),
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
    a[10:12] = struct.pack("<H", 9)
    h = read_header(ARCHIVE)
    crc_at = h.header_bytes - 4
    a[crc_at:crc_at + 4] = struct.pack("<I", zlib.crc32(bytes(a[:crc_at])))
    with pytest.raises(ArchiveError, match="uses coder 9"):
        decompress(bytes(a), MODEL)


def test_empty_input_archive_needs_no_model():
    a = compress(b"", MODEL).archive
    assert read_header(a).blocks == ()
    assert decompress(a) == b""          # no block: the (non built-in) model is never loaded
