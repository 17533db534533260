"""Compression people can trust: the portable path, block methods, the escape, --force, the
container's portability flag and machine signature, and the coder's accounting bound.

The portable path is tested with a small fake PortableModel (an integer-frequency second-order
source, exact in any arithmetic) and, when seminfo.models.portable provides them, with the real
builtin:gpt, builtin:ngram and builtin:smollm2 in separate processes that simulate other machines
(``OMP_NUM_THREADS=1``, ``ATEN_CPU_CAPABILITY=avx2`` / ``default``).
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seminfo.coding import compress, compress_file, decompress, decompress_file, machine_check, read_header
from seminfo.coding.context import ContextDriver, segments
from seminfo.coding.rangecoder import BlockEncoder, coded_bits, quantised
from seminfo.errors import InputError, ModelMismatchError, ModelNotAvailableError
from seminfo.models.base import ModelState, TokenModel
from seminfo.models.tokenizer import ESCAPE_BITS, decode_escaped, encode_escaped
from test_coding import BOS, TEXT, ByteTokenizer, MarkovBytes


class GappyTokenizer(ByteTokenizer):
    """Byte tokens, but the bytes of `missing` have none (as SmolLM2 lacks 21 single bytes)."""

    def __init__(self, missing=bytes(range(0x80, 0x100)) + b"\x04") -> None:
        super().__init__()
        self.missing = set(missing)

    def encode(self, data):
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        bad = next((b for b in data if b in self.missing), None)
        if bad is not None:
            raise ModelMismatchError(f"no single-byte token for byte 0x{bad:02x}")
        return list(data)


class IntSource(TokenModel):
    """A fake PortableModel: next-byte frequencies ``A[x_{t-1}] + B[x_{t-2}] + 1`` (int64, all >= 1),
    computed one position at a time, so bulk and token-by-token calls agree exactly."""

    portable = True

    def __init__(self, seed: int = 0, max_context: int | None = None, name: str = "test:int",
                 tokenizer=None) -> None:
        rng = np.random.default_rng(seed)
        self.vocab_size = 257
        self.name = name
        self.prefix = (BOS,)
        self.max_context = max_context
        self.tokenizer = tokenizer or ByteTokenizer()
        printable = (np.arange(257) >= 32) & (np.arange(257) < 127)
        self.A = rng.integers(0, 2000, size=(257, 257)) * np.where(printable, 30, 1)
        self.B = rng.integers(0, 500, size=(257, 257))
        self.calls: list[tuple] = []

    def _freqs(self, hist: np.ndarray) -> np.ndarray:                      # (B, L) -> (B, K)
        prev2 = hist[:, -2] if hist.shape[1] >= 2 else np.full(hist.shape[0], BOS)
        return (self.A[hist[:, -1]] + self.B[prev2] + 1).astype(np.int64)

    def begin(self, batch_size=1):
        self.calls.append(("begin", batch_size))
        hist = np.full((batch_size, 1), BOS, dtype=np.int64)
        return _State(freqs=self._freqs(hist), length=1, cache=hist)

    def feed_freqs(self, state, ids):
        ids = np.asarray(ids, dtype=np.int64)
        self.calls.append(("feed", ids.shape))
        if self.max_context is not None:
            assert state.length + ids.shape[1] <= self.max_context, "window exceeded"
        hist, outs = state.cache, []
        for t in range(ids.shape[1]):
            hist = np.concatenate([hist, ids[:, t:t + 1]], axis=1)
            outs.append(self._freqs(hist))
        F = np.stack(outs, axis=1)
        return _State(freqs=F[:, -1], length=hist.shape[1], cache=hist), F

    def feed(self, state, ids):
        st, F = self.feed_freqs(state, ids)
        return st, np.log(F / F.sum(-1, keepdims=True))

    def next_log_probs(self, ids, *, prefix=True):
        ids = np.asarray(ids, dtype=np.int64)
        hist = np.concatenate([np.full((ids.shape[0], 1), BOS), ids], axis=1) if prefix else ids
        F = np.stack([self._freqs(hist[:, :t + 1]) for t in range(hist.shape[1])], axis=1)
        return np.log(F / F.sum(-1, keepdims=True))

    def fingerprint(self):
        return hashlib.sha256(self.A.tobytes() + self.B.tobytes()).hexdigest()

    portable_id = fingerprint


class _State(ModelState):
    def __init__(self, freqs, length, cache):
        super().__init__(log_probs=None, length=length, cache=cache)
        self.freqs = freqs


# --- the coder's quantisation and its bound ----------------------------------------------------

def test_quantised_matches_constriction_to_the_bit():
    """Encoding one symbol n times costs exactly n (24 - log2 q) bits plus the final word."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.dirichlet(np.ones(40) * 0.3) * rng.uniform(0.1, 10)
        p[rng.integers(40, size=4)] = 0.0
        q = quantised(p[None])[0]
        assert q.sum() == 2**24 and q.min() >= 1
        s = int(rng.integers(40))
        enc = BlockEncoder()
        enc.encode_many(np.full(3000, s), np.tile(p, (3000, 1)))
        bits = 8 * len(enc.payload())
        ideal = coded_bits(np.tile(p, (3000, 1)), np.full(3000, s))
        assert ideal == pytest.approx(3000 * (24 - math.log2(q[s])))
        assert ideal <= bits <= ideal + 3000 / 128 + 64


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 400), K=st.integers(2, 300), alpha=st.floats(0.01, 2))
def test_payload_lies_within_the_stated_bound(seed, n, K, alpha):
    """[coded - 32, coded + n/128 + 64] bits, coded = sum -log2 q (docs/compression.md)."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(K) * alpha, size=n)
    p[p < 1e-7] = 0.0
    sym = np.array([rng.choice(K, p=row / row.sum()) if rng.random() < 0.9 else rng.integers(K)
                    for row in p])
    enc = BlockEncoder()
    enc.encode_many(sym, p)
    bits = 8 * len(enc.payload())
    coded = coded_bits(p, sym)
    assert coded - 32 <= bits <= coded + n / 128 + 64


# --- the contexts: segments() is ContextDriver's schedule ---------------------------------------

@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 120), window=st.one_of(st.none(), st.integers(4, 30)), keep_frac=st.floats(0, 1))
def test_segments_reproduce_the_drivers_restarts(n, window, keep_frac):
    m = IntSource(max_context=window)
    keep = 0 if window is None else 1 + int(keep_frac * (window - 1 - 2))
    ids = np.arange(n, dtype=np.int64)[None] % 200
    d = ContextDriver(m, 1, window, keep, portable=True)
    contexts = []                                   # the history each token is predicted from
    for t in range(n):
        contexts.append(tuple(d.state.cache[0, 1:]))
        if t + 1 < n:
            d.advance(ids[:, t])
    expect = []
    for seg in segments(n, 1, window, keep):
        for t in range(seg.first, seg.last + 1):
            expect.append(tuple(ids[0, seg.history:t]))
    assert contexts == expect and len(segments(n, 1, window, keep)) == d.restarts + 1


# --- the portable path -------------------------------------------------------------------------

@pytest.mark.parametrize("opts", [{}, {"blocks": 3, "batch_size": 2}, {"window": 12, "keep": 5},
                                  {"blocks": 4, "window": 9, "keep": 1}])
def test_portable_round_trip_and_bulk_encoding(opts):
    m = IntSource(seed=1, max_context=40)
    data = TEXT[:200] + bytes(range(200, 256))
    m.calls.clear()
    r = compress(data, m, methods="model", **opts)
    assert r.portable and r.block_methods.get("model") == r.blocks
    enc_feeds = [c[1][1] for c in m.calls if c[0] == "feed"]
    assert max(enc_feeds) > 1                       # the encoder feeds chunks, not one token at a time
    h = read_header(r.archive)
    assert h.portable and h.machine == ""           # portable: no machine signature
    m.calls.clear()
    assert decompress(r.archive, m) == data
    assert {c[1][1] for c in m.calls if c[0] == "feed"} <= {1, opts.get("keep", 19)}


def test_portable_encoder_codes_the_decoders_rows(monkeypatch):
    """The float64 rows handed to the coder are the same on both sides (here: exact integers)."""
    from seminfo.coding import codec
    seen = {"enc": [], "dec": []}
    enc_one, enc_many, dec = codec.BlockEncoder.encode, codec.BlockEncoder.encode_many, codec.BlockDecoder.decode

    def encode(self, token, p_row):
        seen["enc"].append(hashlib.sha256(p_row[0].tobytes()).digest())
        return enc_one(self, token, p_row)

    def encode_many(self, tokens, p):
        seen["enc"] += [hashlib.sha256(row.tobytes()).digest() for row in p]
        return enc_many(self, tokens, p)

    def decode(self, p_row):
        seen["dec"].append(hashlib.sha256(p_row[0].tobytes()).digest())
        return dec(self, p_row)
    monkeypatch.setattr(codec.BlockEncoder, "encode", encode)
    monkeypatch.setattr(codec.BlockEncoder, "encode_many", encode_many)
    monkeypatch.setattr(codec.BlockDecoder, "decode", decode)
    m = IntSource(seed=2, max_context=20)
    data = TEXT[:150]
    r = compress(data, m, methods="model", blocks=2, keep=6)
    assert decompress(r.archive, m) == data
    order = lambda rows: sorted(rows)               # noqa: E731 (row order differs: bulk vs lockstep)
    assert len(seen["enc"]) == len(seen["dec"]) == r.tokens and order(seen["enc"]) == order(seen["dec"])


def test_portable_false_with_a_portable_model_is_refused():
    with pytest.raises(InputError, match="The `portable` parameter of compress is False"):
        compress(b"abc", IntSource(), portable=False)
    with pytest.raises(ModelNotAvailableError, match="has no deterministic integer path"):
        compress(b"abc", MarkovBytes(), portable=True)


# --- the escape --------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [bytes(range(0x80, 0x100)), b"\xff", b"abc\x04def\xfe\xc3\xa9 ok",
                                  b"\x80" * 50 + TEXT[:60]])
def test_every_byte_compresses_with_a_tokenizer_that_lacks_some(data):
    m = IntSource(seed=3, tokenizer=GappyTokenizer())
    syms = encode_escaped(m.tokenizer, data)
    assert decode_escaped(m.tokenizer, syms) == data
    n_esc = sum(b >= 0x80 or b == 4 for b in data)
    assert sum(s < 0 for s in syms) == n_esc
    r = compress(data, m, methods="model")
    assert r.escaped_bytes == n_esc and r.block_methods == {"model+escape": 1}
    assert decompress(r.archive, m) == data
    # the float path too
    f = MarkovBytes(seed=3)
    f.tokenizer = GappyTokenizer()
    r = compress(data, f, methods="model")
    assert decompress(r.archive, f) == data


def test_an_escaped_byte_costs_18_bits_in_the_coder_and_in_scoring():
    from seminfo.models.scoring import score_bytes
    m = IntSource(seed=4, tokenizer=GappyTokenizer())
    clean = b"abcabc"
    dirty = b"abc\xffabc"
    # the coder: the escape symbol's 10 bits plus 8 for the byte
    r = compress(dirty, m, methods="model", mix=False)               # the model's own numbers, as scoring
    s = score_bytes(m, dirty)
    esc = np.flatnonzero(s.token_ids == 0)
    assert s.surprisal_bits[3] == ESCAPE_BITS == 18.0 and list(esc) == [3]
    # every other symbol costs what the model says, given the escape's place in the context
    lp = m.next_log_probs(np.array([[97, 98, 99, 0, 97, 98, 99]]))[0]
    ids = [97, 98, 99, 0, 97, 98, 99]
    expect = [-lp[t, ids[t]] / math.log(2) for t in range(7)]
    expect[3] = 18.0
    np.testing.assert_allclose(s.surprisal_bits, expect, rtol=1e-12)
    # the coder's cross-entropy adds -log2(1 - 2**-10) per token of a block with escapes
    assert r.cross_entropy_bits == pytest.approx(s.total_bits - 6 * math.log2(1 - 2**-10), rel=1e-9)
    assert score_bytes(m, clean).total_bits < s.total_bits


# --- block methods -----------------------------------------------------------------------------

def _best_standard(data: bytes) -> int:
    import lzma

    import zstandard
    return min(len(zstandard.ZstdCompressor(level=19).compress(data)),
               len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)))


@pytest.mark.parametrize("kind", ["random", "zeros", "text"])
def test_no_input_grows_and_none_is_much_larger_than_the_best_standard_codec(kind):
    m = IntSource(seed=5)
    data = {"random": np.random.default_rng(0).bytes(3000), "zeros": bytes(3000), "text": TEXT * 5}[kind]
    r = compress(data, m)
    assert decompress(r.archive, m) == data
    h = read_header(r.archive)
    fixed = len(r.archive) - h.payload_bytes
    assert len(r.archive) <= len(data) + fixed and fixed <= 140
    assert len(r.archive) <= _best_standard(data) + fixed
    if kind == "random":
        assert r.block_methods == {"raw": 1} and not h.needs_model and h.spec == ""
        # the whole cost of storing random bytes in the compact form: magic 4, method 1, varints
        # 2 + 2 (original and payload lengths), crc32 4
        assert len(r.archive) - len(data) == 13 and h.version == 3
        assert decompress(r.archive) == data        # no model needed at all
    if kind == "zeros":                     # the model mixed with its context model codes zeros in a few bytes
        assert set(r.block_methods) <= {"zstd", "xz", "model"} and len(r.archive) < 100


def test_each_block_keeps_its_own_best_method():
    m = IntSource(seed=6)
    data = np.random.default_rng(1).bytes(600) + bytes(600) + (TEXT * 2)[:600]
    r = compress(data, m, blocks=3)
    methods = [b.method for b in read_header(r.archive).blocks]
    assert methods[0] == "raw" and methods[1] in ("zstd", "xz", "model")
    assert decompress(r.archive, m) == data


def test_float_path_with_mixed_methods_feeds_known_blocks_again():
    m = MarkovBytes(seed=7, max_context=30)
    data = np.random.default_rng(2).bytes(100) + b"ab" * 60 + TEXT[:120]
    r = compress(data, m, blocks=3, keep=9)
    h = read_header(r.archive)
    assert len({b.method for b in h.blocks}) > 1 or h.needs_model
    assert decompress(r.archive, m) == data


# --- the container: portability, machine signature, untrusted specs ---------------------------

def test_a_machine_tied_archive_warns_up_front_on_another_machine():
    from seminfo.coding import container
    m = MarkovBytes(seed=8)
    r = compress(TEXT, m, methods="model")
    h = read_header(r.archive)
    assert not h.portable and "numpy=" in h.machine and machine_check(r.archive, m) == []
    other = h.machine.replace("numpy=", "numpy=0.")
    blobs = container.payloads(r.archive, h)
    moved = container.pack(data=TEXT, window=0, keep=0, batch_size=1, fingerprint=h.fingerprint,
                           spec=h.spec, machine=other,
                           blocks=[(b.method, b.original_bytes, b.tokens, p) for b, p in zip(h.blocks, blobs)])
    assert machine_check(moved, m) and "numpy 0." in machine_check(moved, m)[0]
    with pytest.warns(RuntimeWarning, match="on another kind of machine .*numpy 0\\."):
        assert decompress(moved, m) == TEXT          # same arithmetic after all: it decodes


def test_an_untrusted_archive_cannot_make_decompress_build_a_model(monkeypatch):
    import seminfo.models as models
    from seminfo.coding import container

    def no_load(spec, **kw):
        raise AssertionError(f"a model was loaded: {spec}")
    monkeypatch.setattr(models, "load_model", no_load)
    for spec in ("builtin:ngram:3", "builtin:diffusion", "builtin:nope"):
        a = container.pack(data=b"hi", window=0, keep=0, batch_size=1, fingerprint="ab" * 32, spec=spec,
                           blocks=[("model", 2, 2, b"\x00" * 4)])
        with pytest.raises(ModelNotAvailableError, match="does not load by itself"):
            decompress(a)


# --- --force and the input file ----------------------------------------------------------------

def test_existing_outputs_are_kept_without_force(tmp_path):
    m = IntSource(seed=9)
    src, arc, out = tmp_path / "in.txt", tmp_path / "a.smz", tmp_path / "out.txt"
    src.write_bytes(TEXT)
    arc.write_bytes(b"keep me")
    with pytest.raises(InputError, match="names an existing file.*pass `force`"):
        compress_file(src, arc, m)
    assert arc.read_bytes() == b"keep me"
    compress_file(src, arc, m, force=True)
    out.write_bytes(b"mine")
    with pytest.raises(InputError, match="names an existing file"):
        decompress_file(arc, out, m)
    assert out.read_bytes() == b"mine"
    decompress_file(arc, out, m, force=True)
    assert out.read_bytes() == TEXT
    for force in (False, True):
        with pytest.raises(InputError, match="names the input file itself"):
            compress_file(src, src, m, force=force)
        with pytest.raises(InputError, match="names the input file itself"):
            decompress_file(arc, arc, m, force=force)
    assert src.read_bytes() == TEXT


def test_cli_force(tmp_path, capsys, monkeypatch):
    from seminfo.cli.main import main
    from seminfo.coding import codec
    import seminfo.models as models
    monkeypatch.setattr(models, "load_model", lambda spec, **kw: MarkovBytes(seed=5, name=spec), raising=False)
    monkeypatch.setattr(codec, "AUTO_SPECS", codec.AUTO_SPECS + ("builtin:testmarkov",))
    src, arc, out = tmp_path / "in.txt", tmp_path / "a.smz", tmp_path / "out.txt"
    src.write_bytes(TEXT)
    assert main(["compress", str(src), "-o", str(src), "--model", "builtin:testmarkov", "--force"]) == 2
    assert "names the input file itself" in capsys.readouterr().err and src.read_bytes() == TEXT
    assert main(["compress", str(src), "-o", str(arc), "--model", "builtin:testmarkov"]) == 0
    out.write_bytes(b"existing")
    capsys.readouterr()
    assert main(["decompress", str(arc), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "The `--output` option of seminfo decompress names an existing file" in err
    assert "pass `--force`" in err and out.read_bytes() == b"existing"
    assert main(["decompress", str(arc), "-o", str(out), "--force"]) == 0
    assert out.read_bytes() == TEXT


# --- the real built-in models, in other processes (simulated machines) --------------------------

def _portable_or_skip(spec: str):
    try:
        from seminfo.models.portable import portable_model
        return portable_model(spec)
    except (ImportError, ModelNotAvailableError) as exc:
        pytest.skip(f"no portable path for {spec} here: {exc}")


def _cli(args, env_extra=None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "seminfo.cli.main", *args], capture_output=True,
                          text=True, env=env)


@pytest.mark.parametrize("spec", ["builtin:gpt", "builtin:ngram"])
def test_portable_archive_decodes_on_other_simulated_machines(tmp_path, spec):
    _portable_or_skip(spec)
    from seminfo.models.builtin import corpus_path
    src = tmp_path / "in.bin"
    src.write_bytes(corpus_path("valid").read_bytes()[:300] + "Ünïcödé ✓\n".encode() + b"\xff\x00 raw")
    arc = tmp_path / "a.smz"
    r = _cli(["compress", str(src), "-o", str(arc), "--model", spec])
    assert r.returncode == 0, r.stderr
    assert read_header(arc.read_bytes()).portable
    for cap in ("avx2", "default"):
        out = tmp_path / f"out-{cap}.bin"
        r = _cli(["decompress", str(arc), "-o", str(out)], {"OMP_NUM_THREADS": "1", "ATEN_CPU_CAPABILITY": cap})
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == src.read_bytes()
    out = tmp_path / "out-avx2.bin"
    r = _cli(["decompress", str(arc), "-o", str(out)])
    assert r.returncode == 2 and "names an existing file" in r.stderr
    assert out.read_bytes() == src.read_bytes()


def test_smollm2_compresses_any_bytes(tmp_path):
    """SmolLM2's vocabulary lacks 21 single bytes: they are escaped (portable path when present)."""
    from seminfo.models.builtin import smollm2_directory
    try:
        smollm2_directory()
    except ModelNotAvailableError as exc:
        pytest.skip(str(exc))
    src = tmp_path / "in.bin"
    src.write_bytes(b"Paris \x04\x06 is \xff\xfe\xc0 caf\xc3\xa9 \xf1\x80\x80\x80.")
    arc, out = tmp_path / "a.smz", tmp_path / "out.bin"
    r = _cli(["compress", str(src), "-o", str(arc), "--model", "builtin:smollm2", "--json"])
    assert r.returncode == 0, r.stderr
    r = _cli(["decompress", str(arc), "-o", str(out)], {"OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()
