"""The fused C kernels of the portable models compute the numpy path's integers, bit for bit."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from seminfo.errors import InputError
from seminfo.models.portable import fast, portable_model
from seminfo.models.portable.fixed import F, G, QLinear, QStack, act_table, int_linear, lookup, norm_eps_table, norm_rows

needs_kernels = pytest.mark.skipif(not fast.available(), reason=f"no fused kernels here: {fast.status()}")


@pytest.fixture(scope="module")
def gpt():
    return portable_model("builtin:gpt")


@pytest.fixture(scope="module")
def llama():
    """A tiny random Llama (grouped-query attention, rotary embeddings, SwiGLU) from a config."""
    from transformers import LlamaConfig, LlamaForCausalLM
    from seminfo.models.portable.llama import IntLlama
    cfg = LlamaConfig(vocab_size=4096, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=96,
                      rope_theta=10000.0, tie_word_embeddings=True)
    torch.manual_seed(0)
    hf = LlamaForCausalLM(cfg)
    tok = portable_model("builtin:gpt").tokenizer
    return IntLlama(hf.state_dict(), cfg.to_dict(), tok, name="tiny-llama", prefix=(0,))


def test_the_kernels_are_built_where_a_compiler_is():
    if fast._compiler() is None:
        pytest.skip("no C compiler on this machine")
    assert fast.available(), fast.status()
    assert "compiled" in fast.status()


@needs_kernels
def test_linear_stack_and_residual_add_match_int_linear():
    gen = torch.Generator().manual_seed(1)
    lins = [QLinear.from_float(torch.randn(40, n, generator=gen) * s, torch.randn(n, generator=gen))
            for n, s in ((24, 0.05), (8, 3.0), (8, 1e-4))]
    rng = np.random.default_rng(0)
    single, stack = fast.Lin([lins[0]]), fast.Lin(lins)
    big = (1 << (14 + QStack(lins).shift)) * 4                                    # reaches a clip limit
    for x in (rng.integers(-(1 << (F + 4)), 1 << (F + 4), size=(5, 40)),
              rng.integers(-(1 << 40), 1 << 40, size=(3, 40)),                     # beyond every clip limit
              np.concatenate([rng.integers(-big, big, size=(2, 40)), np.zeros((1, 40), np.int64)])):
        x = x.astype(np.int64)
        buf = fast.rows(x)
        want = int_linear(x, lins[0])
        np.testing.assert_array_equal(single(buf, len(x)).a, want)
        np.testing.assert_array_equal(stack(buf, len(x)).a, np.concatenate([int_linear(x, l) for l in lins], 1))
        acc = fast.rows(np.arange(len(x) * 24, dtype=np.int64).reshape(len(x), 24))
        before = acc.a.copy()
        single(buf, len(x), add_to=acc)
        np.testing.assert_array_equal(acc.a, before + want)


@needs_kernels
@pytest.mark.parametrize("center", [True, False])
def test_norm_with_its_gain_matches_norm_rows(center):
    rng = np.random.default_rng(2)
    d = 48
    eps = norm_eps_table(1e-5, d, center=center).numpy()
    g = rng.integers(-(1 << G), 1 << G, size=d).astype(np.int64)
    c0 = rng.integers(-(1 << (G + 4)), 1 << (G + 4), size=d).astype(np.int64)
    for scale in (1, 1 << 10, 1 << 30):
        x = rng.integers(-scale * (1 << F), scale * (1 << F), size=(4, d)).astype(np.int64)
        x[3] = 7                                                                     # a constant row
        want = norm_rows(x, eps, center=center) * g + c0 >> G
        got = fast.Norm(eps, center, g, c0, G)(fast.rows(x), 4).a
        np.testing.assert_array_equal(got, want)


@needs_kernels
@pytest.mark.parametrize("name", ["gelu_new", "silu"])
def test_activation_tables_and_swiglu_match_lookup(name):
    from seminfo.models.portable.fixed import _ACT_RANGE
    t = act_table(name)
    R = _ACT_RANGE[name]
    x = np.concatenate([np.arange(-(R + 2) << F, (R + 2) << F, 997), [-(1 << 40), 1 << 40, 0]]).astype(np.int64)
    table = fast.Table(t, t[1:] - t[:-1], R, (1 << 31) - 1)
    got = table.act(fast.rows(x[None]))
    np.testing.assert_array_equal(got.a[0], lookup(x, name, t))
    up = np.random.default_rng(3).integers(-(1 << 33), 1 << 33, size=x.shape).astype(np.int64)
    lim = (1 << 31) - 1
    want = (np.clip(lookup(x, name, t), -lim, lim) * np.clip(up, -lim, lim) + (1 << (F - 1))) >> F
    got = table.swiglu(fast.rows(np.concatenate([x, up])[None]), 1)
    np.testing.assert_array_equal(got.a[0], want)


def _rows_three_ways(model, ids, steps):
    """Rows of ids (B, T), T = sum(steps), fed in groups of `steps` tokens with the kernels, the same
    with numpy, and one pass with numpy."""
    assert ids.shape[1] == sum(steps)
    a = _fed(model, ids, steps)
    with fast.disabled():
        b = _fed(model, ids, steps)
        c = model.freq_table(ids)
    return a, b, c


def _fed(model, ids, steps):
    """The rows of ids (B, T) fed from begin() in groups of `steps` tokens."""
    st = model.begin(ids.shape[0])
    rows, p = [st.freqs[:, None]], 0
    for s in steps:
        st, Fr = model.feed_freqs(st, ids[:, p:p + s])
        rows.append(Fr)
        p += s
    return np.concatenate(rows, 1)


@needs_kernels
def test_gpt_rows_with_kernels_are_the_numpy_rows(gpt):
    from seminfo.models.builtin import corpus_path
    ids = np.asarray(gpt.tokenizer.encode(corpus_path("valid").read_bytes()[:3000]), dtype=np.int64)
    ids = np.stack([ids[:104], ids[200:304]])
    a, b, c = _rows_three_ways(gpt, ids, [1] * 10 + [3, 7, 1, 80, 1, 2])
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert np.array_equal(gpt.freq_table(ids), c)                                # one pass with the kernels


@needs_kernels
def test_llama_rows_with_kernels_are_the_numpy_rows(llama):
    ids = np.random.default_rng(4).integers(0, 4096, size=(2, 63)).astype(np.int64)
    a, b, c = _rows_three_ways(llama, ids, [1] * 6 + [4, 1, 50, 2])
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert np.array_equal(llama.freq_table(ids), c)


@needs_kernels
def test_one_cache_passes_between_the_torch_and_kernel_paths(gpt):
    """A cache filled on the torch path (another device's code) goes on with the kernels."""
    ids = np.random.default_rng(5).integers(0, 4096, size=(1, 60)).astype(np.int64)
    cache = gpt._begin_cache(1)
    seq = np.concatenate([np.zeros((1, 1), np.int64), ids[:, :40]], 1)
    with torch.inference_mode():
        gpt._hidden(torch.as_tensor(seq), 0, cache)                                 # torch tensors
    _, rows = gpt._advance(cache, ids[:, 40:50], 41, None)                           # numpy + kernels
    want = gpt.freq_table(ids)
    assert np.array_equal(rows, want[:, 41:51]) and cache[0].bufs[0].dtype == np.int32
    with fast.disabled():                                                           # and back (float64)
        _, rows = gpt._advance(cache, ids[:, 50:], 51, None)
    assert np.array_equal(rows, want[:, 51:]) and cache[0].bufs[0].dtype == np.float64


@needs_kernels
def test_scratch_buffers_are_kept_for_decoding_calls_only(gpt):
    ids = np.random.default_rng(6).integers(0, 4096, size=(1, 150)).astype(np.int64)
    gpt.freq_table(ids)
    st = gpt.begin(1)
    gpt.feed_freqs(st, ids[:, :1])
    lin = gpt._fast_consts()["layers"][0][1]
    lin(fast.rows(np.ones((3, lin.K), np.int64)), 3)
    kept = list(lin._scratch) + list(lin._cscratch)
    assert kept and max(kept) <= fast._KEEP_ROWS


needs_qmm = pytest.mark.skipif(not (fast.available() and fast._qmm()),
                               reason="the kernels' own int8 product needs AVX-512 VNNI")


def _lins(K: int, sizes, seed: int):
    gen = torch.Generator().manual_seed(seed)
    return [QLinear.from_float(torch.randn(K, n, generator=gen) * s, torch.randn(n, generator=gen))
            for n, s in sizes]


def _inputs(K: int, M: int, lins, rng):
    big = (1 << (14 + QStack(lins).shift)) * 4                                    # reaches a clip limit
    return [rng.integers(-(1 << (F + 4)), 1 << (F + 4), size=(M, K)),
            rng.integers(-(1 << 40), 1 << 40, size=(M, K)),                       # beyond every clip limit
            np.where(rng.random((M, K)) < 0.1, big, rng.integers(-99, 99, size=(M, K)))]


@needs_qmm
@pytest.mark.parametrize("K,sizes", [(40, ((24, 0.05), (8, 3.0), (8, 1e-4))), (100, ((37, 0.1),)),
                                     (192, ((576, 0.05),)), (13, ((5, 0.3), (19, 0.02)))])
def test_the_kernels_products_are_torch_products(K, sizes):
    """The VNNI product (any K, any N: padded inside) gives torch._int_mm's integers, for single
    layers, stacks (also beyond a layer's clip limit, handled in the kernel) and the head."""
    from seminfo.models.portable.fixed import exp_table, head_freqs
    lins = _lins(K, sizes, K)
    rng = np.random.default_rng(K)
    L = fast.Lin(lins)
    tab = exp_table().astype(np.float64)
    for M in (1, 2, 5, 16, 37):
        for x in _inputs(K, M, lins, rng):
            x = x.astype(np.int64)
            want = np.concatenate([int_linear(x, lin) for lin in lins], 1)
            add = fast.rows(rng.integers(-1000, 1000, size=(M, L.N)))
            before = add.a.copy()
            np.testing.assert_array_equal(L(fast.rows(x), M).a, want)
            L(fast.rows(x), M, add_to=add)
            np.testing.assert_array_equal(add.a, before + want)
            with fast.torch_products():
                np.testing.assert_array_equal(L(fast.rows(x), M).a, want)
            if len(lins) == 1 and int(np.abs(x).max()) < 1 << 40:
                h = fast.rows(x)
                np.testing.assert_array_equal(fast.head(h, L, tab), head_freqs(x, lins[0], tab))


@needs_qmm
def test_threads_change_no_number():
    """Large products are split over threads by columns; one thread or several, the same integers."""
    lins = _lins(256, ((1024, 0.05),), 7)
    L = fast.Lin(lins)
    x = fast.rows(np.random.default_rng(7).integers(-(1 << 20), 1 << 20, size=(3, 256)))
    lib = fast.library()
    try:
        outs = []
        for n in (1, 2, 3):
            assert lib.si_set_threads(n) == n
            outs.append(L(x, 3).a.copy())
    finally:
        lib.si_set_threads(fast._STATE["threads"])
    assert all(np.array_equal(outs[0], o) for o in outs[1:])
    np.testing.assert_array_equal(outs[0], int_linear(x.a.copy(), lins[0]))


@needs_qmm
@pytest.mark.parametrize("K,N", [(192, 768), (256, 1040), (100, 40), (576, 200)])
def test_tiles_threads_and_rows_change_no_number(K, N):
    """Calls of 16 rows or more take AMX tiles where the CPU has them (finished tile by tile, or kept as
    accumulators for the head); any number of rows (whole tiles or not), columns (an odd number of
    16-column blocks, a narrow last one) and threads gives the VNNI product's and numpy's integers."""
    from seminfo.models.portable.fixed import exp_table, head_freqs
    lins = _lins(K, ((N, 0.05),), K + N)
    L, tab = fast.Lin(lins), exp_table().astype(np.float64)
    rng = np.random.default_rng(N)
    lib = fast.library()
    try:
        for M in (16, 17, 40, 64):
            x = rng.integers(-(1 << 20), 1 << 20, size=(M, K)).astype(np.int64)
            want = int_linear(x, lins[0])
            heads = head_freqs(x, lins[0], tab)
            for threads in (1, 2, 3):
                lib.si_set_threads(threads)
                for tiles in (True, False):
                    with contextlib.nullcontext() if tiles else fast.no_tiles():
                        np.testing.assert_array_equal(L(fast.rows(x), M).a, want)
                        np.testing.assert_array_equal(fast.head(fast.rows(x), L, tab), heads)
    finally:
        lib.si_set_threads(fast._STATE["threads"])


def test_status_names_the_tiles():
    if fast.available() and fast._STATE["amx"]:
        assert "AMX tiles" in fast.status()
        with fast.no_tiles():
            assert fast.library().si_qmm_kind() == 1
        assert fast.library().si_qmm_kind() == 2


@needs_kernels
def test_encoding_restart_segments_together_gives_the_decoders_rows(gpt, monkeypatch):
    """The encoder feeds every restart segment as a row of its own (history, then new tokens), many
    per call; the decoder restarts one at a time. Same archive with the numpy path, and with a table
    budget too small for one segment of every block (then in chunks of tokens), and it decodes."""
    from seminfo.coding import codec, compress, decompress
    from seminfo.models.builtin import corpus_path
    data = corpus_path("valid").read_bytes()[:1500] + bytes([0xC3]) + b" tail"
    for opts in ({"window": 30, "keep": 7, "blocks": 2}, {"window": 64, "keep": 1}):
        r = compress(data, gpt, methods="model", **opts)
        assert r.restarts > 3
        with fast.disabled():
            assert compress(data, gpt, methods="model", **opts).archive == r.archive
        with monkeypatch.context() as mp:
            mp.setattr(codec, "SEGMENT_BUDGET", 8 * 2 * 4096 * 9)            # 9 rows of two blocks
            assert compress(data, gpt, methods="model", **opts).archive == r.archive
        assert decompress(r.archive, gpt) == data


@needs_qmm
def test_two_threads_decoding_at_once_get_their_own_numbers():
    """Two Python threads in the kernels at once (ctypes lets go of the GIL): one takes the thread pool,
    the other computes alone; both get exact results."""
    import threading
    layers = [fast.Lin(_lins(256, ((1024, 0.05),), 20 + i)) for i in range(2)]
    rng = np.random.default_rng(20)
    xs = [[fast.rows(rng.integers(-(1 << 20), 1 << 20, size=(1, 256))) for _ in range(3)] for _ in range(2)]
    want = [[int_linear(x.a.copy(), L.lins[0]) for x in row] for row, L in zip(xs, layers)]
    bad = []

    def work(i):
        for n in range(300):                      # inputs change every call: stale results would show
            if not np.array_equal(layers[i](xs[i][n % 3], 1).a, want[i][n % 3]):
                bad.append(i)
                return
    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not bad and not any(t.is_alive() for t in threads)


@needs_qmm
@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_its_own_threads():
    """The pool's threads do not survive fork; a child starts its own and gets the same integers."""
    import select
    lins = _lins(256, ((1024, 0.05),), 8)
    L = fast.Lin(lins)
    x = fast.rows(np.random.default_rng(8).integers(-(1 << 20), 1 << 20, size=(1, 256)))
    want = L(x, 1).a.copy()                                      # the parent's pool is running
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:                                                 # pragma: no cover (the child)
        try:
            os.write(w, L(x, 1).a.tobytes())
        finally:
            os._exit(0)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 120)
        assert ready, "the forked child did not answer within 120 s"
        got = b""
        while len(got) < want.nbytes:
            chunk = os.read(r, want.nbytes)
            if not chunk:
                break
            got += chunk
    finally:
        os.close(r)
        os.waitpid(pid, 0)
    np.testing.assert_array_equal(np.frombuffer(got, dtype=np.int64).reshape(want.shape), want)


@needs_qmm
def test_whole_blocks_give_the_per_kernel_rows(gpt, llama):
    """Decoding calls run each transformer block in one kernel call: the same rows as the kernels one
    by one with torch products, token by token and in small groups."""
    for model in (gpt, llama):
        ids = np.random.default_rng(9).integers(0, 4096, size=(2, 30)).astype(np.int64)
        steps = [1] * 12 + [2, 5, 8, 3]
        a = _fed(model, ids, steps)
        with fast.torch_products():
            assert not fast.whole_blocks()
            b = _fed(model, ids, steps)
        assert np.array_equal(a, b)
        assert np.array_equal(a, model.freq_table(ids))


def test_status_says_which_product_runs():
    text = fast.status()
    if fast.available():
        assert ("VNNI" in text) == fast._qmm() and "int8 products" in text


_CHILD = """
import sys
from seminfo.coding import decompress
from seminfo.models.portable import fast
sys.stdout.write(str(fast.available()) + " " + decompress(open(sys.argv[1], "rb").read()).hex())
"""


@needs_kernels
def test_archives_decode_with_and_without_the_kernels(tmp_path):
    """An archive made with the kernels decodes in a process without them, and the reverse."""
    from seminfo.coding import compress
    data = "Kernels change the speed, never the numbers: ünïcödé, 12345.\n".encode() * 3
    made = {"kernels": compress(data, "builtin:gpt").archive}
    with fast.disabled():
        made["numpy"] = compress(data, "builtin:gpt").archive
    assert made["kernels"] == made["numpy"]
    path = tmp_path / "a.smz"
    path.write_bytes(made["kernels"])
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for flag, expect in (("0", "False"), ("1", "True")):
        r = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True,
                           env={**env, "SEMINFO_KERNELS": flag}, timeout=300)
        assert r.returncode == 0, r.stderr[-2000:]
        assert r.stdout.split() == [expect, data.hex()]


def test_without_a_compiler_the_numpy_path_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    monkeypatch.setenv("SEMINFO_CACHE", str(tmp_path / "cache"))
    saved = dict(fast._STATE)
    fast._STATE.update(lib=None, tried=False, why="", off=False)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert fast.library() is None
        assert any("numpy kernels (same numbers, slower)" in str(w.message) for w in caught)
        assert "does not run" in fast.status()
        m = portable_model("builtin:gpt")
        ids = np.arange(1, 30, dtype=np.int64)[None]
        st, rows = m.feed_freqs(m.begin(1), ids)
        assert np.array_equal(rows, m.freq_table(ids)[:, 1:])
    finally:
        fast._STATE.clear()
        fast._STATE.update(saved)


def test_feeding_with_skip_computes_the_later_rows_only(gpt):
    """A restart feeds `keep` tokens and needs only the row after the last one (``skip=T - 1``); the
    encoder's restart segments need the rows after their history (``skip=keep - 1``)."""
    ids = np.random.default_rng(10).integers(0, 4096, size=(2, 40)).astype(np.int64)
    for skip in (39, 17, 0):
        full_state, full = gpt.feed_freqs(gpt.begin(2), ids)             # (a state is fed once)
        st, rows = gpt.feed_freqs(gpt.begin(2), ids, skip=skip)
        assert rows.shape == (2, 40 - skip, gpt.vocab_size) and np.array_equal(rows, full[:, skip:])
        assert np.array_equal(st.freqs, full_state.freqs) and st.length == full_state.length
        nxt = ids[:, :1]                                             # both states go on alike
        assert np.array_equal(gpt.feed_freqs(full_state, nxt)[1], gpt.feed_freqs(st, nxt)[1])
    with pytest.raises(InputError, match="skip"):
        gpt.feed_freqs(gpt.begin(2), ids, skip=40)
