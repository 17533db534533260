"""Benchmark: would mixing builtin:gpt with an adaptive token context model pay? Cross-entropy only.

Float arithmetic outside the coder (the coder's integer version is seminfo.coding.mixing): the portable
model's probabilities of each token (windows of 255 tokens), an order-2 token context model backed off
to order 1 and 0, and a two-expert Bayesian mixture with fixed share 0.02 (start 0.9 on the model).
Prints bits/byte of each on the first 8,000 bytes of every file given.

Usage::

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_mixing.py /var/log/dpkg.log \
        /usr/share/common-licenses/Apache-2.0 src/seminfo/data/corpus/valid.txt
"""
import os, sys, math
os.environ["HF_HUB_OFFLINE"]="1"
import numpy as np
from collections import defaultdict
from seminfo.models.portable import portable_model
m = portable_model("builtin:gpt")
K = m.vocab_size
def model_probs(ids):
    out = []
    W = 255
    for s in range(0, len(ids), W):
        ch = ids[s:s+W]
        Fr = m.freq_table(ch[None])[0][:len(ch)]      # row t predicts ch[t]
        out.append(Fr[np.arange(len(ch)), ch] / Fr.sum(-1))
    return np.concatenate(out)
def ctx_probs(ids, beta=1.0):
    c0 = np.zeros(K); n0 = 0
    c1 = defaultdict(lambda: defaultdict(int)); n1 = defaultdict(int)
    c2 = defaultdict(lambda: defaultdict(int)); n2 = defaultdict(int)
    out = np.empty(len(ids))
    for t, x in enumerate(ids):
        p0 = (c0[x] + 0.5) / (n0 + 0.5 * K)
        a = ids[t-1] if t >= 1 else -1
        p1 = (c1[a][x] + beta * p0) / (n1[a] + beta)
        b = (ids[t-2], a) if t >= 2 else (-1, a)
        p2 = (c2[b][x] + beta * p1) / (n2[b] + beta)
        out[t] = p2
        c0[x] += 1; n0 += 1; c1[a][x] += 1; n1[a] += 1; c2[b][x] += 1; n2[b] += 1
    return out
def mixture(pa, pb, alpha=0.02):
    w = np.array([0.9, 0.1]); bits = 0.0
    for x, y in zip(pa, pb):
        p = w[0] * x + w[1] * y
        bits -= math.log2(p)
        w = w * np.array([x, y]); w /= w.sum()
        w = (1 - alpha) * w + alpha / 2
    return bits
for path in sys.argv[1:]:
    data = open(path, "rb").read()[:8000]
    ids = np.asarray(m.tokenizer.encode(data), dtype=np.int64)
    pm, pc = model_probs(ids), ctx_probs(ids)
    bm, bc, bx = -np.log2(pm).sum(), -np.log2(pc).sum(), mixture(pm, pc)
    print(f"{os.path.basename(path):14s} {len(data)} bytes: model {bm/len(data):.3f} ctx {bc/len(data):.3f} mix {bx/len(data):.3f} bits/byte ({100*(bx-bm)/bm:+.1f}% vs model)")
