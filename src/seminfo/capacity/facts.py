"""Synthetic fact corpora with exact information content, their word-level tokenizer and two reference
models (an oracle that knows every fact, a uniform one that knows none).

A corpus holds `n_people` individuals with unique three-part names (first x middle x last, drawn without
replacement from a fixed name space) and, for each attribute ``a`` with domain size ``d_a``, one value
drawn uniformly and independently from ``{0, ..., d_a - 1}``. Its entropy is therefore exact::

    H = n_people * sum_a log2 d_a   bits                                     (theory §11)

Documents are short biographies: one sentence per attribute, each sentence in one of five templates
chosen at random, the sentence order permuted, the full name in every sentence (Allen-Zhu & Li's
"bioS multi5+permute fullname" [1]). Values are written as fixed-length codes over a small digit
alphabet (`base` digits, most significant first: a domain of 256 with base 16 is two digit tokens), so the
vocabulary stays small and a value's log-loss is the sum over its code tokens.

The text is words separated by single spaces; :class:`FactTokenizer` maps each word to one token and is
byte-exact on that language (``decode(encode(t)) == t``). Text with any other word, a double space or a
newline is refused with a :class:`~seminfo.errors.ModelMismatchError` that names the first unknown word:
it is the tokenizer of this corpus only.

References
----------
[1] Z. Allen-Zhu, Y. Li, "Physics of Language Models: Part 3.3, Knowledge Capacity Scaling Laws",
    arXiv:2404.05405, 2024.

Leaves out: Allen-Zhu & Li's natural-language bioS/bioR generators (real names, cities, dates), their
"junk" data mixtures and their per-attribute accounting of partially known values.
"""

from __future__ import annotations

import hashlib
import json
import math
import pathlib
import re
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import InputError, ModelMismatchError
from .._validate import as_int, as_seed, as_token_ids, check_output_path
from ..models.base import ModelState, Tokenizer, TokenModel

__all__ = ["FactCorpus", "FactTokenizer", "FactModel", "fact_corpus", "TEMPLATES", "PROBE_TEMPLATE"]

#: Largest alphabet of value digits (digit tokens are 0-9, A-Z, a-z, then two more).
MAX_BASE = 64
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Largest total number of facts (people x attributes) a corpus may hold.
MAX_FACTS = 10_000_000

# Name parts: capitalised consonant-vowel syllable pairs, one suffix per part so the three pools are
# disjoint (first "Bako", middle "Bakor", last "Bakosen"). 18 x 5 syllables give 8,100 words per part.
_CONS = "bdfghjklmnprstvwyz"
_VOWELS = "aeiou"
_SYLLABLES = [c + v for c in _CONS for v in _VOWELS]
_PART_SUFFIX = ("", "r", "sen")
#: Words available for each of the three name parts; the name space holds NAME_POOL ** 3 names.
NAME_POOL = len(_SYLLABLES) ** 2

#: Sentence templates: NAME is the three name tokens, ATTR the attribute word, VALUE its code tokens.
#: Each ends in "ATTR <marker> VALUE ." with a marker word that appears nowhere else.
TEMPLATES: tuple[tuple[str, ...], ...] = (
    ("NAME", "ATTR", "is", "VALUE", "."),
    ("the", "ATTR", "of", "NAME", "is", "VALUE", "."),
    ("NAME", "has", "ATTR", ":", "VALUE", "."),
    ("for", "NAME", "the", "ATTR", "is", "VALUE", "."),
    ("NAME", "'s", "ATTR", "=", "VALUE", "."),
)
#: The canonical probe of stored_bits: template 0 up to the value, "<first> <middle> <last> <attr> is".
PROBE_TEMPLATE = "NAME ATTR is"
_MARKERS = ("is", ":", "=")
_SPECIALS = ("<s>",)
_WORDS = ("the", "of", "has", "for", "'s", ".", *_MARKERS)
_ATTR = re.compile(r"^[a-z][a-z_]*$")


# ------------------------------------------------------------------------------------------------------
# tokenizer

class FactTokenizer(Tokenizer):
    """One token per word of a fixed vocabulary; words are separated by single spaces.

    ``decode`` joins the words' bytes with single spaces, so ``decode(encode(t)) == t`` for every text of
    the corpus language. Id 0 is ``<s>``, the start token models are conditioned on.
    """

    def __init__(self, words: Sequence[str]):
        self.words = tuple(words)
        self.ids = {w: i for i, w in enumerate(self.words)}
        if len(self.ids) != len(self.words):
            raise InputError("The `words` parameter of FactTokenizer must not repeat a word.")
        self.vocab_size = len(self.words)
        self._bytes = [w.encode() for w in self.words]

    def encode(self, data: bytes | str) -> list[int]:
        if isinstance(data, (bytes, bytearray, memoryview)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ModelMismatchError(f"The text is not UTF-8 (byte {exc.start}); the fact-corpus "
                                         "tokenizer reads only its own corpus text.") from None
        if not isinstance(data, str):
            raise InputError(f"The `data` parameter of FactTokenizer.encode must be str or bytes. Got "
                             f"{type(data).__name__}.")
        if data == "":
            return []
        out = []
        for k, w in enumerate(data.split(" ")):
            i = self.ids.get(w)
            if i is None:
                raise ModelMismatchError(
                    f"The text holds {w!r} (word {k}), which is not in the fact-corpus vocabulary of "
                    f"{self.vocab_size} words: this tokenizer reads only its corpus's text (words joined by "
                    "single spaces, no newlines).")
            out.append(i)
        return out

    def decode(self, ids: Sequence[int]) -> bytes:
        try:
            return b" ".join(self._bytes[int(i)] for i in ids)
        except IndexError:
            raise InputError(f"The `ids` parameter of FactTokenizer.decode must hold ids in "
                             f"0..{self.vocab_size - 1}.") from None

    def fingerprint(self) -> str:
        return hashlib.sha256("\n".join(self.words).encode()).hexdigest()

    def save(self, path: str | pathlib.Path) -> None:
        """Write the vocabulary as JSON (one list of words)."""
        pathlib.Path(path).write_text(json.dumps({"type": "seminfo-fact-tokenizer", "words": self.words}),
                                      encoding="utf-8")

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "FactTokenizer":
        obj = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
        if not isinstance(obj, dict) or obj.get("type") != "seminfo-fact-tokenizer":
            raise ModelMismatchError(f"{str(path)!r} is not a fact-corpus tokenizer file.")
        return cls(obj["words"])


# ------------------------------------------------------------------------------------------------------
# the corpus

def _check_attributes(attributes: Any, func: str) -> dict[str, int]:
    if not isinstance(attributes, Mapping) or not attributes:
        raise InputError(f"The `attributes` parameter of {func} must be a non-empty dict "
                         f"{{name: domain size}}. Got {attributes!r}.")
    out = {}
    for name, size in attributes.items():
        if not isinstance(name, str) or not _ATTR.match(name) or name in _WORDS:
            raise InputError(f"The `attributes` parameter of {func} must have lowercase word names "
                             f"(a-z and _, not one of {', '.join(_WORDS)}). Got {name!r}.")
        out[name] = as_int(size, f"attributes[{name!r}]", func, minimum=2)
    return out


def fact_corpus(n_people: int = 1000, attributes: Mapping[str, int] | None = None, *, seed: int = 0,
                base: int = 16) -> "FactCorpus":
    """A synthetic fact corpus of entropy ``n_people * sum_a log2 d_a`` bits (exact).

    Parameters
    ----------
    n_people : int
        Number of individuals (>= 1, at most NAME_POOL**3 = 5.3e11 names and 1e7 facts in all).
    attributes : dict {str: int}
        Attribute word -> domain size (>= 2). Default ``{"birthday": 256, "city": 256, "employer": 256,
        "major": 256}``, 32 bits per person.
    seed : int
        Seed of the names and values (non-negative).
    base : int
        Size of the digit alphabet in which values are written (2..64); a value of a domain of size d
        takes ``ceil(log_base d)`` tokens.

    Returns
    -------
    FactCorpus

    Examples
    --------
    >>> from seminfo.capacity import fact_corpus, stored_bits
    >>> c = fact_corpus(10, {"city": 256, "job": 3}, seed=0)
    >>> round(c.entropy_bits, 6)                      # 10 x (8 + log2 3)
    95.849625
    >>> round(stored_bits(c.oracle_model(), c).bits, 6), round(stored_bits(c.uniform_model(), c).bits, 6)
    (95.849625, 0.0)
    """
    func = "fact_corpus"
    n_people = as_int(n_people, "n_people", func, minimum=1)
    attrs = _check_attributes({"birthday": 256, "city": 256, "employer": 256, "major": 256}
                              if attributes is None else attributes, func)
    if seed is None:
        raise InputError(f"The `seed` parameter of {func} must be a non-negative integer (the corpus must "
                         "be reproducible). Got None.")
    seed = as_seed(seed, func)
    if isinstance(seed, np.random.Generator):
        raise InputError(f"The `seed` parameter of {func} must be a non-negative integer (it is saved with "
                         "the corpus). Got a Generator.")
    base = as_int(base, "base", func, minimum=2, maximum=MAX_BASE)
    if n_people > NAME_POOL ** 3:
        raise InputError(f"The `n_people` parameter of {func} must be at most {NAME_POOL ** 3:,} (the "
                         f"name space, {NAME_POOL:,} words per name part). Got {n_people:,}.")
    if n_people * len(attrs) > MAX_FACTS:
        raise InputError(f"The `n_people` parameter of {func} gives {n_people * len(attrs):,} facts, more "
                         f"than the limit of {MAX_FACTS:,}. Use fewer people or attributes.")
    return FactCorpus(n_people, attrs, seed, base)


class FactCorpus:
    """People, their attribute values, the tokenizer and the renderer of biographies.

    Build it with :func:`fact_corpus`. Attributes
    ----------
    n_people : int
    attributes : dict {str: int}
        Attribute -> domain size, in rendering order.
    values : ndarray of int, shape (n_people, n_attributes)
        The facts: ``values[i, a]`` is person i's value of attribute a, uniform on 0..d_a - 1.
    names : list of str
        Full names ("First Middle Last").
    tokenizer : FactTokenizer
    """

    def __init__(self, n_people: int, attributes: dict[str, int], seed: int, base: int):
        self.n_people, self.attributes, self.seed, self.base = n_people, dict(attributes), seed, base
        self.attribute_names = list(attributes)
        self.domain_sizes = np.array(list(attributes.values()), dtype=np.int64)
        #: Code length (tokens) of each attribute's values.
        self.code_lengths = [max(1, _digits_needed(int(d), base)) for d in self.domain_sizes]
        rng = np.random.default_rng([seed, 20240405])
        # name parts: the smallest pool k with k**3 >= 2 n (at least 2), then n names without replacement
        k = 2
        while k ** 3 < 2 * n_people and k < NAME_POOL:
            k += 1
        words = [_SYLLABLES[i // len(_SYLLABLES)] + _SYLLABLES[i % len(_SYLLABLES)]
                 for i in range(NAME_POOL)]
        parts = [[(w + suf).capitalize() for w in (words[j] for j in rng.choice(NAME_POOL, k, replace=False))]
                 for suf in _PART_SUFFIX]
        flat = _sample_without_replacement(rng, k ** 3, n_people)
        self.name_parts = np.stack([flat // (k * k), (flat // k) % k, flat % k], axis=1)   # (N, 3)
        self.values = np.stack([rng.integers(0, d, n_people) for d in self.domain_sizes], axis=1)  # (N, A)
        digits = [_DIGITS[i] if i < len(_DIGITS) else ("_", "@")[i - len(_DIGITS)] for i in range(base)]
        vocab = [*_SPECIALS, *_WORDS, *self.attribute_names, *digits, *parts[0], *parts[1], *parts[2]]
        self.tokenizer = FactTokenizer(vocab)
        ids = self.tokenizer.ids
        self.bos_id = ids["<s>"]
        self.digit_ids = np.array([ids[d] for d in digits], dtype=np.int64)
        self.attr_ids = np.array([ids[a] for a in self.attribute_names], dtype=np.int64)
        self.part_ids = [np.array([ids[w] for w in p], dtype=np.int64) for p in parts]
        self.name_ids = np.stack([self.part_ids[j][self.name_parts[:, j]] for j in range(3)], axis=1)
        self.names = [" ".join(self.tokenizer.words[i] for i in row) for row in self.name_ids]

    # -------------------------------------------------------------------------------------------- facts
    @property
    def entropy_bits(self) -> float:
        """Exact entropy of the facts, ``n_people * sum_a log2 d_a`` bits."""
        return float(self.n_people * np.sum(np.log2(self.domain_sizes)))

    @property
    def n_facts(self) -> int:
        return self.n_people * len(self.attributes)

    def value_codes(self, a: int) -> np.ndarray:
        """Token ids of attribute `a`'s values, shape (n_people, code length), most significant first."""
        L = self.code_lengths[a]
        v = self.values[:, a]
        digits = np.stack([(v // self.base ** (L - 1 - j)) % self.base for j in range(L)], axis=1)
        return self.digit_ids[digits]

    def probes(self, a: int) -> tuple[np.ndarray, np.ndarray]:
        """Canonical probes "<first> <middle> <last> <attr> is" (n_people, 5) and value ids (n_people, L)."""
        n = self.n_people
        ids = self.tokenizer.ids
        probe = np.concatenate([self.name_ids, np.full((n, 1), self.attr_ids[a]),
                                np.full((n, 1), ids["is"])], axis=1)
        return probe, self.value_codes(a)

    # ------------------------------------------------------------------------------------------ rendering
    def render_ids(self, people: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Biographies of `people` as token ids, one row each, right-padded with -1: shape (B, T).

        Each sentence takes a random template, the sentence order is a random permutation.
        """
        people = np.asarray(people, dtype=np.int64)
        B, A = len(people), len(self.attributes)
        ids = self.tokenizer.ids
        order = np.argsort(rng.random((B, A)), axis=1)                     # (B, A) attribute order
        tmpl = rng.integers(0, len(TEMPLATES), (B, A))                     # (B, A) template per sentence
        smax = max(len(t) + 2 + L for t in TEMPLATES for L in self.code_lengths)
        pieces = np.full((B, A, smax), -1, dtype=np.int64)                 # (B, A, S)
        codes = [self.value_codes(a)[people] for a in range(A)]
        for k in range(A):
            a_col = order[:, k]
            for t, template in enumerate(TEMPLATES):
                for a in range(A):
                    rows = np.nonzero((tmpl[:, k] == t) & (a_col == a))[0]
                    if rows.size == 0:
                        continue
                    cols = []
                    for slot in template:
                        if slot == "NAME":
                            cols.extend(self.name_ids[people[rows]].T)
                        elif slot == "ATTR":
                            cols.append(np.full(rows.size, self.attr_ids[a]))
                        elif slot == "VALUE":
                            cols.extend(codes[a][rows].T)
                        else:
                            cols.append(np.full(rows.size, ids[slot]))
                    pieces[rows, k, :len(cols)] = np.stack(cols, axis=1)
        flat = pieces.reshape(B, -1)
        keep = flat >= 0
        lengths = keep.sum(1)
        out = np.full((B, int(lengths.max())), -1, dtype=np.int64)
        pos = np.cumsum(keep, axis=1) - 1
        out[np.nonzero(keep)[0], pos[keep]] = flat[keep]
        return out

    def documents(self, *, exposures: int = 1, seed: int = 0) -> list[str]:
        """Biographies as text, one per document: `exposures` renderings of every person (person order
        shuffled within each exposure)."""
        exposures = as_int(exposures, "exposures", "FactCorpus.documents", minimum=1)
        rng = np.random.default_rng(as_seed(seed, "FactCorpus.documents"))
        out = []
        for _ in range(exposures):
            rows = self.render_ids(rng.permutation(self.n_people), rng)
            out.extend(self.tokenizer.decode(r[r >= 0]).decode() for r in rows)
        return out

    def write(self, path: str | pathlib.Path, *, exposures: int = 1, seed: int = 0) -> pathlib.Path:
        """Write the biographies: a ``.jsonl`` file ({"text": ...} per line) or a folder of ``.txt`` files
        (one per document, created when missing). Returns the path."""
        p = pathlib.Path(path)
        jsonl = p.suffix == ".jsonl"
        p = check_output_path(p, "The `path` parameter of FactCorpus.write", folder=not jsonl)
        docs = self.documents(exposures=exposures, seed=seed)
        if jsonl:
            p.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")
        else:
            p.mkdir(exist_ok=True)
            width = len(str(len(docs)))
            for k, d in enumerate(docs):
                (p / f"bio_{k:0{width}d}.txt").write_text(d, encoding="utf-8")
        return p

    # ------------------------------------------------------------------------------------------- models
    def oracle_model(self, known: Any = None) -> "FactModel":
        """The model that knows every fact (or only those of the people in `known`: indices or a bool
        mask of length n_people; the others are predicted uniformly)."""
        mask = np.ones(self.n_people, dtype=bool)
        if known is not None:
            k = np.asarray(known)
            if k.dtype == bool:
                if k.shape != (self.n_people,):
                    raise InputError(f"The `known` parameter of oracle_model must be a bool mask of length "
                                     f"{self.n_people} or person indices. Got shape {k.shape}.")
                mask = k.copy()
            else:
                if k.size and (k.dtype.kind not in "iu" or k.min() < 0 or k.max() >= self.n_people):
                    raise InputError(f"The `known` parameter of oracle_model must hold person indices in "
                                     f"0..{self.n_people - 1}.")
                mask = np.zeros(self.n_people, dtype=bool)
                mask[k.astype(np.int64)] = True
        return FactModel(self, mask, "oracle")

    def uniform_model(self) -> "FactModel":
        """The model that predicts every value uniformly over its domain (knows no fact)."""
        return FactModel(self, np.zeros(self.n_people, dtype=bool), "uniform")

    # -------------------------------------------------------------------------------------- description
    def describe(self) -> dict:
        """What rebuilds the corpus exactly (:meth:`from_description`), with its entropy."""
        return {"n_people": self.n_people, "attributes": dict(self.attributes), "seed": self.seed,
                "base": self.base, "entropy_bits": self.entropy_bits,
                "tokenizer_fingerprint": self.tokenizer.fingerprint()}

    @classmethod
    def from_description(cls, desc: Mapping) -> "FactCorpus":
        corpus = fact_corpus(desc["n_people"], desc["attributes"], seed=desc["seed"], base=desc["base"])
        fp = desc.get("tokenizer_fingerprint")
        if fp is not None and fp != corpus.tokenizer.fingerprint():
            raise ModelMismatchError("The corpus description does not rebuild the same vocabulary (saved by "
                                     "another version of seminfo.capacity).")
        return corpus

    def __repr__(self) -> str:
        return (f"FactCorpus(n_people={self.n_people}, attributes={self.attributes}, seed={self.seed}, "
                f"base={self.base}, entropy_bits={self.entropy_bits:.6g})")


def _digits_needed(d: int, base: int) -> int:
    """Smallest L with base**L >= d (integer arithmetic)."""
    L, span = 0, 1
    while span < d:
        L, span = L + 1, span * base
    return L


def _sample_without_replacement(rng: np.random.Generator, space: int, n: int) -> np.ndarray:
    """n distinct integers of 0..space-1 (space may exceed memory: rejection on a set)."""
    if space <= 4 * n or space <= 1_000_000:
        return rng.choice(space, n, replace=False).astype(np.int64)
    seen: set[int] = set()
    out = np.empty(n, dtype=np.int64)
    k = 0
    while k < n:
        for x in rng.integers(0, space, 2 * (n - k)):
            if int(x) not in seen:
                seen.add(int(x))
                out[k] = x
                k += 1
                if k == n:
                    break
    return out


# ------------------------------------------------------------------------------------------------------
# oracle and uniform models

class FactModel(TokenModel):
    """Oracle or uniform reference model of a :class:`FactCorpus` (numpy, no torch).

    It reads the context as the corpus's templates write it: the person is the last full name seen, the
    attribute the last attribute word, and a value starts after a marker word ("is", ":", "="). At value
    positions the oracle puts all mass on the next code digit of a known person's value (a wrong earlier
    digit, or an unknown person, falls back to uniform); the uniform model gives each digit the share of
    the domain's codes that continue with it, so a whole value costs exactly log2 d bits. Everywhere else
    both predict uniformly over the vocabulary.
    """

    def __init__(self, corpus: FactCorpus, known: np.ndarray, kind: str):
        self.corpus, self.known, self.kind = corpus, known, kind
        self.tokenizer = corpus.tokenizer
        self.vocab_size = corpus.tokenizer.vocab_size
        self.prefix = (corpus.bos_id,)
        self.name = f"fact-{kind}"
        self.max_context = None
        ids = self.tokenizer.ids
        self._person = {tuple(r): i for i, r in enumerate(corpus.name_ids.tolist())}
        self._attr = {int(t): a for a, t in enumerate(corpus.attr_ids)}
        self._markers = {ids[m] for m in _MARKERS}
        self._digit = {int(t): k for k, t in enumerate(corpus.digit_ids)}
        self._values = corpus.values
        self._uniform_row = np.full(self.vocab_size, -math.log(self.vocab_size))

    def n_parameters(self) -> None:
        return None

    def fingerprint(self) -> str:
        h = hashlib.sha256(f"{self.kind}|{self.corpus.describe()}|".encode())
        h.update(np.packbits(self.known).tobytes())
        return h.hexdigest()

    def _digit_row(self, person: int | None, a: int, prefix_value: int, j: int) -> np.ndarray:
        """Log-probabilities of digit j of attribute a's value given the first j digits (value prefix)."""
        c = self.corpus
        d, L, b = int(c.domain_sizes[a]), c.code_lengths[a], c.base
        row = np.full(self.vocab_size, -np.inf)
        if self.kind == "oracle" and person is not None and self.known[person]:
            v = int(self._values[person, a])
            if v // b ** (L - j) == prefix_value:
                row[c.digit_ids[(v // b ** (L - 1 - j)) % b]] = 0.0
                return row
        span = b ** (L - 1 - j)
        lo = (prefix_value * b + np.arange(b)) * span                       # (b,) first value of each digit
        counts = np.clip(np.minimum(lo + span, d) - lo, 0, None)
        total = counts.sum()
        if total == 0:                                                       # a prefix outside the domain
            return self._uniform_row.copy()
        with np.errstate(divide="ignore"):
            row[c.digit_ids] = np.log(counts) - math.log(total)
        return row

    def _rows(self, seq: Sequence[int]) -> np.ndarray:
        """(len(seq), K) log-probabilities after each token of one sequence (prefix included)."""
        out = np.tile(self._uniform_row, (len(seq), 1))
        person = attr = None
        in_value, j, pv = False, 0, 0
        for t, tok in enumerate(seq):
            if in_value:
                k = self._digit.get(tok)
                if k is None:
                    in_value = False
                else:
                    j, pv = j + 1, pv * self.corpus.base + k
                    if j >= self.corpus.code_lengths[attr]:
                        in_value = False
            if not in_value:
                if t >= 2:
                    p = self._person.get((seq[t - 2], seq[t - 1], tok))
                    if p is not None:
                        person = p
                a = self._attr.get(tok)
                if a is not None:
                    attr = a
                elif tok in self._markers and attr is not None:
                    in_value, j, pv = True, 0, 0
            if in_value:
                out[t] = self._digit_row(person, attr, pv, j)
        return out

    def next_log_probs(self, ids: np.ndarray, *, prefix: bool = True) -> np.ndarray:
        arr = _check_ids(ids, self.vocab_size, "FactModel.next_log_probs")
        B, T = arr.shape
        pre = list(self.prefix) if prefix else []
        out = np.empty((B, T + len(pre), self.vocab_size))
        for b in range(B):
            out[b] = self._rows(pre + arr[b].tolist())
        return out

    def begin(self, batch_size: int = 1) -> ModelState:
        B = as_int(batch_size, "batch_size", "FactModel.begin", minimum=1)
        seqs = [list(self.prefix) for _ in range(B)]
        lp = np.stack([self._rows(s)[-1] for s in seqs])
        return ModelState(log_probs=lp, length=len(self.prefix), cache=seqs)

    def feed(self, state: ModelState, ids: np.ndarray) -> tuple[ModelState, np.ndarray]:
        arr = _check_ids(ids, self.vocab_size, "FactModel.feed")
        seqs = [s + r for s, r in zip(state.cache, arr.tolist())]
        if arr.shape[0] != len(state.cache):
            raise ModelMismatchError(f"The `ids` parameter of FactModel.feed has {arr.shape[0]} rows but the "
                                     f"state holds {len(state.cache)}.")
        T = arr.shape[1]
        out = np.stack([self._rows(s)[len(s) - T:] for s in seqs]) if T else \
            np.zeros((arr.shape[0], 0, self.vocab_size))
        lp = out[:, -1] if T else state.log_probs
        return ModelState(log_probs=lp, length=state.length + T, cache=seqs), out


def _check_ids(ids: Any, k: int, func: str) -> np.ndarray:
    return as_token_ids(ids, k, func)
