"""Score text with a token model: bits per token, bits per byte and perplexity, as lm-eval does.

Each document is tokenised (byte-exactly) and scored after the model's prefix token. Texts longer
than the model's context are cut into rolling windows exactly as lm-evaluation-harness's
``get_rolling_token_windows`` / ``make_disjoint_window`` do [1]:

* a window feeds at most `window` tokens to the model (the prefix counts; the last scored token is a
  target only, never an input);
* the first window is ``prefix + x[:window - P]`` and scores ``x[:window - P + 1]`` (P = len(prefix));
* every later window scores the next `stride` tokens (default `stride` = `window`: disjoint windows)
  and feeds the ``window`` tokens before its last target, so its first target sees
  ``window - stride + 1`` tokens of context (1 for disjoint windows, as in the harness);
* every token is scored exactly once.

Models without a context limit (n-grams, finite-state sources, Mamba) score each document in one
call unless a `window` is given. Windows are batched (`batch_size` rows per call, right-padded;
the models are causal, so padding never changes a scored position).

Corpus figures are ratios of totals [1]: ``bits_per_token = sum s_t / N_tokens``,
``bits_per_byte = sum s_t / N_bytes`` (UTF-8 bytes of the text), ``perplexity = 2**bits_per_token``
(per token of this model's tokenizer), with s_t = -log2 p(x_t | x_<t) in bits.

A long run can be resumed: with ``resume=PATH`` every scored window is appended to a JSONL checkpoint
as soon as its model call returns, and skipped when the same run (same model fingerprint, window,
stride, documents) restarts, so an interruption loses at most the call in flight. Every record
carries a sha256 of its content and of the run, checked on reading: a record that is cut, not
UTF-8, incomplete, edited or from another run is not trusted, and its window is scored again
(with a RuntimeWarning unless it is the last line, cut by an interruption).

Library calls are silent by default (``progress=False``); ``progress=True`` shows a tqdm bar on
stderr that advances by window. The ``seminfo score`` command shows it unless ``--no-progress``.

References
----------
[1] EleutherAI lm-evaluation-harness: ``lm_eval.utils.get_rolling_token_windows``,
    ``HFLM.loglikelihood_rolling`` and the ``bits_per_byte`` / ``word_perplexity`` aggregations.

Leaves out: word-level perplexity, masked-diffusion likelihood bounds, sampling-based estimates.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import pathlib
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from .._validate import as_int, check_output_path, utf8_bytes
from ..errors import InputError
from ..results import Result
from ..units import LN2
from ..results import FieldUnits
from .base import TokenModel
from .tokenizer import ESCAPE_BITS, ESCAPE_FEED_ID, encode_escaped

__all__ = ["ScoreResult", "DocumentScore", "score_bytes", "score_text", "read_documents",
           "plan_windows"]

#: File suffixes read from a directory by :func:`read_documents`.
TEXT_SUFFIXES = (".txt", ".md", ".rst")
_CHECKPOINT_VERSION = 3       # 3: a sha256 per record; 2: one record per scored window; 1: per document


@dataclass(frozen=True)
class DocumentScore(Result):
    """Score of one document (totals in bits; ratios per token and per UTF-8 byte)."""

    name: str
    n_tokens: int
    n_bytes: int
    total_bits: float
    bits_per_token: float
    bits_per_byte: float


@dataclass(frozen=True)
class ScoreResult(FieldUnits, Result):
    """Corpus score of a token model, aggregated by totals as lm-evaluation-harness does.

    Attributes
    ----------
    model : str
        Spec of the model.
    bits_per_token : float
        ``total_bits / n_tokens`` (bits per token of this model's tokenizer).
    bits_per_byte : float
        ``total_bits / n_bytes`` (bits per UTF-8 byte; comparable across tokenizers).
    perplexity : float
        ``2 ** bits_per_token`` (per token).
    n_tokens, n_bytes : int
        Scored tokens and bytes over all documents.
    total_bits : float
        Sum of per-token surprisal (bits, total).
    documents : tuple of DocumentScore
        One row per document, in input order.
    window, stride : int or None
        Window (tokens fed per call, prefix included) and stride used; None: whole documents.
    surprisal_bits, entropy_bits : ndarray (n_tokens,) or None
        Per-token surprisal -log2 p(x_t | x_<t) and predictive entropy H(p(.|x_<t)) (bits per
        token), documents concatenated; None unless ``per_token=True``.
    token_ids : ndarray of int64 (n_tokens,) or None
    doc_index : ndarray of int64 (n_tokens,) or None
        Document of each token (index into `documents`).
    units : str
        ``"bits"``: every figure is in bits (per token, per byte or in total, as its name says).
        Indexing it by a field name (``units["bits_per_byte"]``, the dict of earlier releases) still
        works for one release, with a DeprecationWarning.
    field_units : dict
        Unit of each field, e.g. ``field_units["bits_per_byte"] == "bits/byte"``.
    """

    model: str
    bits_per_token: float
    bits_per_byte: float
    perplexity: float
    n_tokens: int
    n_bytes: int
    total_bits: float
    documents: tuple = ()
    window: int | None = None
    stride: int | None = None
    surprisal_bits: np.ndarray | None = None
    entropy_bits: np.ndarray | None = None
    token_ids: np.ndarray | None = None
    doc_index: np.ndarray | None = None
    units: str = "bits"
    field_units: dict = field(default_factory=lambda: {
        "bits_per_token": "bits/token", "bits_per_byte": "bits/byte", "perplexity": "per token",
        "total_bits": "bits (total)", "surprisal_bits": "bits/token", "entropy_bits": "bits/token",
        "mean_entropy_bits_per_token": "bits/token"})


    def summary(self) -> dict[str, Any]:
        """The corpus figures and per-document rows, without per-token arrays (for JSON output).

        Fields that do not apply are left out (no nulls): ``window`` and ``stride`` appear only when
        scoring used windows (``stride`` equals ``window`` for the default disjoint windows). Carries
        ``units`` (a str, ``"bits"``) and ``field_units``: the unit of each figure it holds, and only those.
        """
        keep = ("model", "bits_per_token", "bits_per_byte", "perplexity", "n_tokens", "n_bytes",
                "total_bits", "window", "stride")
        out = {k: getattr(self, k) for k in keep}
        if out["window"] is not None and out["stride"] is None:
            out["stride"] = out["window"]
        out = {k: v for k, v in out.items() if v is not None}
        if self.entropy_bits is not None and self.entropy_bits.size:
            out["mean_entropy_bits_per_token"] = float(np.mean(self.entropy_bits))
        known = {**self.field_units, "window": "tokens", "stride": "tokens"}
        out["units"] = str(self.units)
        out["field_units"] = {k: known[k] for k in out if k in known}
        out["documents"] = self.document_rows()
        return out

    def document_rows(self) -> list[dict[str, Any]]:
        """One dict per document (name, n_tokens, n_bytes, total_bits, bits_per_token, bits_per_byte)."""
        return [d.as_dict() for d in self.documents]

    def token_rows(self) -> list[dict[str, Any]]:
        """One dict per token: document, position, id, token text, surprisal and entropy in bits."""
        if self.surprisal_bits is None:
            raise InputError("This ScoreResult has no per-token values; score with per_token=True.")
        rows, pos, last = [], 0, -1
        for k in range(self.surprisal_bits.size):
            d = int(self.doc_index[k])
            pos = pos + 1 if d == last else 0
            last = d
            rows.append({"document": self.documents[d].name, "position": pos,
                         "token_id": int(self.token_ids[k]),
                         "surprisal_bits": float(self.surprisal_bits[k]),
                         "entropy_bits": float(self.entropy_bits[k])})
        return rows

    def write_csv(self, path: str | os.PathLike, *, level: str = "document",
                  tokenizer: Any = None) -> pathlib.Path:
        """Write per-document (``level="document"``) or per-token rows as CSV; returns the path.

        With a `tokenizer`, per-token rows carry the printable token text. The folder of `path`
        must exist (InputError otherwise, before anything is written).
        """
        func = "ScoreResult.write_csv"
        path = check_output_path(path, f"The `path` parameter of {func}")
        if level not in ("document", "token"):
            raise InputError(f"The `level` parameter of {func} must be one of "
                             f"'document', 'token'. Got {level!r}.")
        rows = self.document_rows() if level == "document" else self.token_rows()
        if level == "token" and tokenizer is not None:
            for r in rows:
                r["token"] = tokenizer.token_str(r["token_id"])
        try:
            with path.open("w", newline="", encoding="utf-8") as fh:
                if rows:
                    w = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    w.writeheader()
                    w.writerows(rows)
        except OSError as exc:
            raise InputError(f"The `path` parameter of {func} names a file that cannot be written: "
                             f"{str(path)!r} ({exc.strerror or exc}).") from None
        return path

    def write_json(self, path: str | os.PathLike) -> pathlib.Path:
        """Write :meth:`summary` as JSON; returns the path. The folder of `path` must exist."""
        func = "ScoreResult.write_json"
        path = check_output_path(path, f"The `path` parameter of {func}")
        text = json.dumps(self.summary(), indent=2)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"The `path` parameter of {func} names a file that cannot be written: "
                             f"{str(path)!r} ({exc.strerror or exc}).") from None
        return path


# ------------------------------------------------------------------------------------ windows
def plan_windows(n_tokens: int, window: int | None, stride: int | None, n_prefix: int
                 ) -> list[tuple[int, int, int, bool]]:
    """Rolling windows of one document of `n_tokens` tokens, as lm-evaluation-harness builds them.

    Returns a list of ``(start, end, n_context, with_prefix)``: the call scores tokens
    ``x[start + n_context : end]`` by ``token_stats(x[start:end], n_context=n_context,
    prefix=with_prefix)``. Every token 0..n_tokens-1 is scored exactly once. `window` None: one call.
    """
    if n_tokens == 0:
        return []
    if window is None:
        return [(0, n_tokens, 0, True)]
    stride = window if stride is None else stride
    first = min(n_tokens, window - n_prefix + 1)
    plan = [(0, first, 0, True)]
    done = first
    while done < n_tokens:
        n_pred = min(n_tokens - done, stride)
        end = done + n_pred
        start = max(0, end - window - 1)
        plan.append((start, end, end - n_pred - start, False))
        done = end
    return plan


def _checked_window(model: TokenModel, window: Any, stride: Any, func: str
                    ) -> tuple[int | None, int | None]:
    limit = getattr(model, "max_context", None)
    n_prefix = len(model.prefix)
    if window is None:
        window = limit
    else:
        window = as_int(window, "window", func, minimum=max(n_prefix, 1))
        if limit is not None and window > limit:
            raise InputError(f"The `window` parameter of {func} must be <= the model's context of "
                             f"{limit} tokens. Got {window}.")
    if stride is not None:
        if window is None:
            raise InputError(f"The `stride` parameter of {func} needs a `window`: the model "
                             f"{model.name!r} has no context limit, so documents are scored whole.")
        stride = as_int(stride, "stride", func, minimum=1, maximum=window)
    return window, stride


# ------------------------------------------------------------------------------------ documents
def read_documents(source: Any, *, func: str = "score_text") -> list[tuple[str, bytes]]:
    """Documents ``(name, bytes)`` from a str (one text), a path (file, directory, ``.jsonl``), bytes,
    or a list of str/bytes.

    A directory gives its ``*.txt``, ``*.md`` and ``*.rst`` files (recursively, sorted by path); a
    ``.jsonl`` file gives one document per line from the field ``"text"``.
    """
    if isinstance(source, str):
        return [("text", utf8_bytes(source, "source", func))]
    if isinstance(source, (bytes, bytearray, memoryview)):
        return [("bytes", bytes(source))]
    if isinstance(source, os.PathLike):
        return _read_path(pathlib.Path(source), func)
    if isinstance(source, (list, tuple)):
        docs = []
        for k, item in enumerate(source):
            if isinstance(item, str):
                docs.append((f"doc{k}", utf8_bytes(item, "source", f"{func} (document {k})")))
            elif isinstance(item, (bytes, bytearray, memoryview)):
                docs.append((f"doc{k}", bytes(item)))
            else:
                raise InputError(f"The `source` parameter of {func} must hold str or bytes documents. "
                                 f"Item {k} is {type(item).__name__}.")
        return docs
    raise InputError(f"The `source` parameter of {func} must be a str (text), bytes, a pathlib.Path "
                     f"(file, directory or .jsonl) or a list of documents. Got {type(source).__name__}.")


def _read_file(path: pathlib.Path, func: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"The `source` parameter of {func} names a file that cannot be read: "
                         f"{str(path)!r} ({exc.strerror or exc}).") from None


def _read_path(path: pathlib.Path, func: str) -> list[tuple[str, bytes]]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TEXT_SUFFIXES)
        if not files:
            raise InputError(f"The `source` parameter of {func} names a directory with no "
                             f"{'/'.join('*' + s for s in TEXT_SUFFIXES)} files: {str(path)!r}.")
        return [(str(p.relative_to(path)), _read_file(p, func)) for p in files]
    if not path.exists():
        raise InputError(f"The `source` parameter of {func} names a file that does not exist: "
                         f"{str(path)!r}.")
    data = _read_file(path, func)
    if path.suffix.lower() != ".jsonl":
        return [(path.name, data)]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"The JSONL file {str(path)!r} is not valid UTF-8 (byte {exc.start}); JSON "
                         "lines must be UTF-8 text.") from None
    docs = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"Line {lineno} of {str(path)!r} is not valid JSON ({exc.msg}).") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise InputError(f"Line {lineno} of {str(path)!r} must be a JSON object with a string "
                             "field \"text\".")
        where = f"{func} (line {lineno} of {path.name})"
        docs.append((f"{path.name}:{lineno}", utf8_bytes(obj["text"], "source", where)))
    return docs


# ------------------------------------------------------------------------------------ checkpoint
def _run_key(model: TokenModel, window: int | None, stride: int | None, per_token: bool) -> dict:
    return {"version": _CHECKPOINT_VERSION, "model": model.name, "fingerprint": model.fingerprint(),
            "window": window, "stride": stride, "per_token": bool(per_token)}


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=True).encode("utf-8")


def _record_sum(run: str, rec: dict) -> str:
    """sha256 of a record's content (without its checksum) bound to the run's digest."""
    body = {k: v for k, v in rec.items() if k != "sha256"}
    return hashlib.sha256(run.encode("ascii") + b"|" + _canonical(body)).hexdigest()


def _run_digest(key: dict) -> str:
    return hashlib.sha256(_canonical(key)).hexdigest()


def _check_resume_path(resume: Any, func: str) -> pathlib.Path:
    """The checkpoint path, checked before any model is loaded or any text scored."""
    if not isinstance(resume, (str, os.PathLike)) or not os.fspath(resume):
        raise InputError(f"The `resume` parameter of {func} must be the path of a JSONL checkpoint file "
                         f"(str or pathlib.Path). Got {resume!r}.")
    path = check_output_path(resume, f"The `resume` parameter of {func}")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise InputError(f"The `resume` parameter of {func} names a checkpoint that cannot be read and "
                         f"written: {str(path)!r}.")
    return path


def _valid_record(rec: Any, run: str, expected: dict[tuple[int, int], int], per_token: bool) -> bool:
    """True when `rec` is a complete record of this run whose checksum matches its content."""
    if not isinstance(rec, dict) or not isinstance(rec.get("sha256"), str):
        return False
    if rec["sha256"] != _record_sum(run, rec):
        return False
    i, k, n = rec.get("index"), rec.get("window"), rec.get("n_tokens")
    if not all(type(v) is int for v in (i, k, n)) or expected.get((i, k)) != n:
        return False
    if not isinstance(rec.get("total_bits"), (int, float)) or isinstance(rec["total_bits"], bool):
        return False
    if per_token:
        for name in ("surprisal_bits", "entropy_bits"):
            v = rec.get(name)
            if not isinstance(v, list) or len(v) != n:
                return False
    return True


def _load_checkpoint(path: pathlib.Path, key: dict, expected: dict[tuple[int, int], int],
                     func: str) -> tuple[dict[tuple[int, int], dict], bool]:
    """Verified records of an earlier run ((document, window) -> record) and whether any line was
    dropped; ({}, False) when there is no file.

    `expected` maps each window of this run to its number of scored tokens. A record that fails
    verification (cut, not UTF-8, not JSON, incomplete, edited, of another window) is dropped and
    its window scored again; a damaged record other than a last line cut by an interruption is
    reported with a RuntimeWarning.
    """
    try:
        raw = path.read_bytes() if path.exists() else b""
    except OSError as exc:
        raise InputError(f"The `resume` parameter of {func} names a checkpoint that cannot be read: "
                         f"{str(path)!r} ({exc.strerror or exc}).") from None
    lines = raw.split(b"\n")
    if not raw.strip():
        return {}, False
    try:
        header = json.loads(lines[0].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"The `resume` parameter of {func} names {str(path)!r}, which is not a "
                         "seminfo checkpoint. Pass a new path or delete the file.") from None
    if not isinstance(header, dict) or header.get("checkpoint") != key:
        raise InputError(f"The `resume` parameter of {func} names a checkpoint of another run "
                         f"({str(path)!r}: model, weights, window, stride, per_token, documents or the "
                         "checkpoint version differ). Pass a new path or delete the file.")
    run = _run_digest(key)
    per_token = bool(key.get("per_token"))
    done: dict[tuple[int, int], dict] = {}
    damaged, dropped = [], False
    body = lines[1:]
    for n, line in enumerate(body, 2):
        if not line.strip():
            continue
        try:
            rec = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            rec = None
        if _valid_record(rec, run, expected, per_token):
            done[(rec["index"], rec["window"])] = rec
            continue
        dropped = True
        if not (n == len(body) + 1 and not raw.endswith(b"\n")):     # not a cut last line
            damaged.append(n)
    if damaged:
        shown = ", ".join(map(str, damaged[:5])) + (", ..." if len(damaged) > 5 else "")
        warnings.warn(f"The checkpoint {str(path)!r} has {len(damaged)} damaged record(s) (line(s) "
                      f"{shown}: not UTF-8 JSON, incomplete, or not matching their checksum); their "
                      "windows are scored again.", RuntimeWarning, stacklevel=4)
    return done, dropped


def _open_checkpoint(path: pathlib.Path, key: dict, fresh: bool, func: str,
                     keep: dict[tuple[int, int], dict] | None = None):
    """The checkpoint opened for appending. `fresh`: write a new file (header, then the records
    `keep`, written to a temporary file and renamed over `path`, so that dropped lines go)."""
    try:
        if fresh:
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            with tmp.open("w", encoding="utf-8") as out:
                out.write(json.dumps({"checkpoint": key}) + "\n")
                for rec in (keep or {}).values():
                    out.write(json.dumps(rec) + "\n")
            os.replace(tmp, path)
            fh = path.open("a", encoding="utf-8")
        else:
            ends = path.read_bytes().endswith(b"\n")
            fh = path.open("a", encoding="utf-8")
            if not ends:
                fh.write("\n")                # terminate a line cut by an interruption
        fh.flush()
    except OSError as exc:
        raise InputError(f"The `resume` parameter of {func} names a checkpoint that cannot be written: "
                         f"{str(path)!r} ({exc.strerror or exc}).") from None
    return fh


def _write_record(fh: Any, rec: dict, run: str) -> None:
    rec["sha256"] = _record_sum(run, rec)
    fh.write(json.dumps(rec) + "\n")
    fh.flush()


# ------------------------------------------------------------------------------------ scoring
def plan_batches(jobs: Sequence[tuple[np.ndarray, int, bool]], batch_size: int | None,
                 batch_tokens: int | None) -> list[list[int]]:
    """Model calls for many ``(ids, n_context, with_prefix)`` windows: lists of job indices.

    Windows are sorted by signature (``with_prefix``, ``n_context``) and then by length, longest
    first, so that each call pads little; a call holds windows of one signature, at most
    `batch_size` rows (None: no row limit) and at most `batch_tokens` padded tokens (rows x width of
    its longest window; None: no token budget; a window longer than the budget gets a call of its
    own). The plan depends on the windows alone, so any number of workers runs the same calls.
    """
    order = sorted(range(len(jobs)), key=lambda j: (jobs[j][2], jobs[j][1], -len(jobs[j][0]), j))
    groups: list[list[int]] = []
    k = 0
    while k < len(order):
        j0 = order[k]
        width = len(jobs[j0][0])
        group = [j0]
        while k + len(group) < len(order):
            nxt = order[k + len(group)]
            if (jobs[nxt][1:] != jobs[j0][1:] or (batch_size is not None and len(group) >= batch_size)
                    or (batch_tokens is not None and (len(group) + 1) * width > batch_tokens)):
                break
            group.append(nxt)
        groups.append(group)
        k += len(group)
    return groups


def _pad(windows: Sequence[tuple[np.ndarray, int, bool]]) -> np.ndarray:
    """The windows of one call right-padded into a (rows, width) batch (the models are causal, so
    padding never changes a scored position)."""
    width = max(len(w[0]) for w in windows)
    batch = np.zeros((len(windows), width), dtype=np.int64)
    for r, w in enumerate(windows):
        batch[r, : len(w[0])] = w[0]
    return batch


def _rows(windows, sur, ent) -> list[tuple[np.ndarray, np.ndarray | None]]:
    out = []
    for r, w in enumerate(windows):
        n = len(w[0]) - w[1]
        out.append((np.asarray(sur[r, :n], dtype=np.float64),
                    None if ent is None else np.asarray(ent[r, :n], dtype=np.float64)))
    return out


def _call(model: TokenModel, windows: Sequence[tuple[np.ndarray, int, bool]], entropy: bool, **kw):
    """token_stats over the padded windows of one call (one signature)."""
    return model.token_stats(_pad(windows), n_context=windows[0][1], prefix=windows[0][2],
                             entropy=entropy, **kw)


def run_windows(model: TokenModel, windows: Sequence[tuple[np.ndarray, int, bool]], entropy: bool
                ) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """One model call over windows of one signature: ``(surprisal, entropy)`` per window, nats,
    float64."""
    return _rows(windows, *_call(model, windows, entropy))


def _on_device(model: Any) -> bool:
    """True for a model on an accelerator whose token_stats can leave results there (to_host)."""
    return str(getattr(model, "device", "cpu")) != "cpu" and hasattr(model, "hf_model")


def _score_windows(model: TokenModel, jobs: list[tuple[np.ndarray, int, bool]], batch_size: int | None,
                   entropy: bool, batch_tokens: int | None = None
                   ) -> Iterable[tuple[int, np.ndarray, np.ndarray | None]]:
    """``(job, surprisal, entropy)`` (nats, float64) for every window, in the calls of
    :func:`plan_batches`, yielded after each call (for callers that hold the model themselves)."""
    for g in plan_batches(jobs, batch_size, batch_tokens):
        for j, (sur, ent) in zip(g, run_windows(model, [jobs[j] for j in g], entropy)):
            yield j, sur, ent


def encode_shard(model: TokenModel, docs: Sequence[bytes]) -> list[np.ndarray]:
    """Work function of a model pool: the escaped token symbols of each document (int64; -1 - b
    for a byte b the tokenizer cannot represent)."""
    return [np.asarray(encode_escaped(model.tokenizer, data), dtype=np.int64) for data in docs]


def score_shard(model: TokenModel, shard: tuple[list, bool]) -> list[list[tuple]]:
    """Work function of a model pool: ``shard = (calls, entropy)``, each call a list of windows;
    returns, per call, :func:`run_windows`'s ``(surprisal, entropy)`` per window."""
    calls, entropy = shard
    if not _on_device(model):
        return [run_windows(model, call, entropy) for call in calls]
    # on a GPU every call is queued before anything is copied back: one wait per shard, not per call
    pending = [_call(model, call, entropy, to_host=False) for call in calls]
    return [_rows(call, sur.cpu().numpy(), None if ent is None else ent.cpu().numpy())
            for call, (sur, ent) in zip(calls, pending)]


def _shards(groups: list[list[int]], jobs: list, per_call: bool, shard_tokens: int) -> list[list[list[int]]]:
    """Consecutive model calls handed to a worker at once: one call per shard in this process on a
    CPU (`per_call`); over Ray or on a GPU, calls up to `shard_tokens` tokens (fewer round trips
    and device waits; the calls themselves do not change)."""
    if per_call:
        return [[g] for g in groups]
    shards, cur, size = [], [], 0
    for g in groups:
        n = sum(len(jobs[j][0]) for j in g)
        if cur and size + n > shard_tokens:
            shards.append(cur)
            cur, size = [], 0
        cur.append(g)
        size += n
    if cur:
        shards.append(cur)
    return shards


#: Tokens of windows per shard handed to a Ray worker.
SHARD_TOKENS = 16_384


def _score_documents(model: TokenModel, docs: list[tuple[str, bytes]], *, window: Any, stride: Any,
                     batch_size: Any, batch_tokens: Any, progress: bool, per_token: bool, resume: Any,
                     ray: Any, workers: Any, load_options: dict | None, func: str) -> ScoreResult:
    from ..scale import open_pool
    path = None if resume is None else _check_resume_path(resume, func)
    if batch_tokens is not None:
        batch_tokens = as_int(batch_tokens, "batch_tokens", func, minimum=1)
    if batch_size is not None:
        batch_size = as_int(batch_size, "batch_size", func, minimum=1)
    elif batch_tokens is None:
        batch_size = 8
    if not docs or sum(len(d) for _, d in docs) == 0:
        raise InputError(f"The text given to {func} is empty: there is nothing to score.")
    with open_pool(model, ray=ray, workers=workers, needs=("score",), func=func,
                   load_options=load_options) as pool:
        view = pool.view
        window, stride = _checked_window(view, window, stride, func)
        # bytes the tokenizer cannot represent are escaped (theory §12; coding uses the same escape):
        # the model is fed ESCAPE_FEED_ID in their place and each costs ESCAPE_BITS
        per = max(1, -(-len(docs) // pool.workers))
        parts = pool.map_ordered("score.encode", [[d for _, d in docs[a:a + per]]
                                                  for a in range(0, len(docs), per)])
        symbols = [s for part in parts for s in part]
        escaped = [s < 0 for s in symbols]
        encoded = [np.where(e, ESCAPE_FEED_ID, s) for s, e in zip(symbols, escaped)]
        plans = [plan_windows(x.size, window, stride, len(view.prefix)) for x in encoded]
        records: dict[tuple[int, int], dict] = {}
        fh = run = None
        if path is not None:
            key = _run_key(view, window, stride, per_token)
            key["documents"] = hashlib.sha256(b"".join(hashlib.sha256(d).digest() for _, d in docs)).hexdigest()
            expected = {(i, k): end - start - n_ctx for i, plan in enumerate(plans)
                        for k, (start, end, n_ctx, _) in enumerate(plan)}
            records, dropped = _load_checkpoint(path, key, expected, func)
            run = _run_digest(key)
            fresh = dropped or not path.exists() or not path.read_bytes().strip()
            fh = _open_checkpoint(path, key, fresh, func, keep=records)
        where = [(i, k) for i, plan in enumerate(plans) for k in range(len(plan))]
        jobs = []
        for i, k in where:
            start, end, n_ctx, with_prefix = plans[i][k]
            jobs.append((encoded[i][start:end], n_ctx, with_prefix))
        # the calls are planned over every window, so a resumed run makes the same calls; a call
        # whose windows are all in the checkpoint is skipped
        groups = [g for g in plan_batches(jobs, batch_size, batch_tokens)
                  if not all(where[j] in records for j in g)]
        saved = set(records)          # a call that is run again writes only its missing windows
        per_call = pool.workers == 1 and not _on_device(pool.view)
        shards = _shards(groups, jobs, per_call, SHARD_TOKENS)
        bar = None
        if progress:
            from tqdm.auto import tqdm
            total = sum(len(jobs[j][0]) - jobs[j][1] for g in groups for j in g)
            bar = tqdm(total=int(total), unit="tok", desc=f"scoring {view.name}", leave=False,
                       postfix={"workers": pool.workers} if pool.workers > 1 else None)
        try:
            tasks = [([[jobs[j] for j in g] for g in shard], per_token) for shard in shards]
            for s, result in pool.map("score.windows", tasks):
                for g, stats in zip(shards[s], result):
                    for j, (sur, ent) in zip(g, stats):
                        i, k = where[j]
                        sur = sur / LN2
                        start, end, n_ctx, _ = plans[i][k]
                        sur[escaped[i][start + n_ctx:end]] = ESCAPE_BITS
                        rec = {"index": i, "window": k, "n_tokens": int(sur.size),
                               "total_bits": float(sur.sum())}
                        if per_token:
                            rec["surprisal_bits"] = sur.tolist()
                            rec["entropy_bits"] = (ent / LN2).tolist()
                        records[(i, k)] = rec
                        if fh is not None and (i, k) not in saved:
                            _write_record(fh, rec, run)
                        if bar is not None:
                            bar.update(rec["n_tokens"])
        finally:
            if fh is not None:
                fh.close()
            if bar is not None:
                bar.close()
    return _assemble(view, docs, encoded, plans, records, window, stride, per_token)


def _ratio(a: float, b: int) -> float:
    return a / b if b else math.nan


def _assemble(model, docs, encoded, plans, records, window, stride, per_token) -> ScoreResult:
    rows = []
    for i, (name, data) in enumerate(docs):
        bits = float(sum(records[(i, k)]["total_bits"] for k in range(len(plans[i]))))
        n = int(encoded[i].size)
        rows.append(DocumentScore(name=name, n_tokens=n, n_bytes=len(data), total_bits=bits,
                                  bits_per_token=_ratio(bits, n), bits_per_byte=_ratio(bits, len(data))))
    total = float(sum(r.total_bits for r in rows))
    n_tok = int(sum(r.n_tokens for r in rows))
    n_bytes = int(sum(r.n_bytes for r in rows))
    extra: dict[str, Any] = {}
    if per_token:
        windows = [records[(i, k)] for i in range(len(docs)) for k in range(len(plans[i]))]
        extra = dict(
            surprisal_bits=np.asarray([b for w in windows for b in w["surprisal_bits"]], dtype=np.float64),
            entropy_bits=np.asarray([b for w in windows for b in w["entropy_bits"]], dtype=np.float64),
            token_ids=np.concatenate(encoded).astype(np.int64),
            doc_index=np.repeat(np.arange(len(docs), dtype=np.int64), [e.size for e in encoded]))
    bpt = _ratio(total, n_tok)
    return ScoreResult(model=model.name, bits_per_token=bpt, bits_per_byte=_ratio(total, n_bytes),
                       perplexity=2.0 ** bpt if n_tok else math.nan, n_tokens=n_tok, n_bytes=n_bytes,
                       total_bits=total, documents=tuple(rows), window=window, stride=stride, **extra)


# ------------------------------------------------------------------------------------ public API
def score_bytes(model: TokenModel | str, data: bytes | str | Sequence[bytes], *, window: int | None = None,
                stride: int | None = None, batch_size: int | None = None, batch_tokens: int | None = None,
                progress: bool = False, per_token: bool = True, resume: str | os.PathLike | None = None,
                ray: str | None = None, workers: int | None = None,
                load_options: dict | None = None) -> ScoreResult:
    """Bits per token and per byte of `data`: sum_t -log2 p(x_t | x_<t) over tokens, over bytes.

    Parameters
    ----------
    model : TokenModel or str
        A model, or a spec (``"builtin:gpt"``, a directory, a hub name) loaded with `load_options`.
    data : bytes, str (encoded as UTF-8) or list of bytes/str (one document each)
    window : int or None, keyword-only
        Tokens fed per call, prefix included; None: the model's `max_context` (whole documents for
        models without a limit). Must not exceed `max_context`.
    stride : int or None, keyword-only
        New tokens scored per later window, 1..window; None: `window` (disjoint windows).
    batch_size : int or None, keyword-only
        Most windows per model call. None: 8, or no row limit when `batch_tokens` is given.
    batch_tokens : int or None, keyword-only
        Token budget of a model call: windows (sorted by length, longest first, so little is
        padding) are added while rows x the longest window stays within it. None: no budget.
    progress : bool, keyword-only
        Show a tqdm progress bar on stderr. Default False: library calls are silent (the
        ``seminfo score`` command passes True unless ``--no-progress``).
    per_token : bool, keyword-only
        Keep per-token surprisal and entropy (bits) and token ids in the result.
    resume : path or None, keyword-only
        JSONL checkpoint file: every scored window is appended with a sha256 of its content, and
        skipped on a restart of the same run once verified (damaged records are scored again). Its
        folder must exist. With `ray`, each finished shard's windows are written as they come back.
    ray : str or None, keyword-only
        Run the model calls on Ray actors that each hold the model: ``"local"`` (a Ray instance on
        this machine) or a cluster address (``"auto"``, ``"ray://head:10001"``). Needs the ``ray``
        extra. The calls and the order of the sums do not depend on the number of workers, so the
        totals equal the single-process run's (docs/scale.md). None (default): this process.
    workers : int or None, keyword-only
        Ray actors (only with `ray`); None: one per GPU of the cluster, else one per CPU.
    load_options : dict or None, keyword-only
        ``device``, ``dtype``, ``trust_remote_code``, ``allow_unsafe_weights`` of
        :func:`seminfo.load_model`, used where a spec `model` is loaded (here, or by each worker).

    Returns
    -------
    ScoreResult
        bits_per_token (bits/token), bits_per_byte (bits/byte), perplexity (per token), totals.

    Raises
    ------
    InputError
        Empty data, text that is not valid Unicode (a lone surrogate), a window longer than the
        model's context, an invalid stride or batch size, a `resume` path that is a folder or in a
        missing folder, a checkpoint of another run.
    ModelMismatchError
        The model's tokenizer does not give the bytes back even piece by piece. Bytes its vocabulary
        lacks (SmolLM2 has no token for 21 single bytes) are escaped, not refused: each is charged
        ``ESCAPE_BITS`` (18 bits), what the coder pays for it (docs/compression.md, "The escape").
    """
    if isinstance(data, os.PathLike):
        raise InputError("The `data` parameter of score_bytes must be bytes or str; to score a file or "
                         "a directory use score_text(model, pathlib.Path(...)).")
    return _score_documents(model, read_documents(data, func="score_bytes"), window=window,
                            stride=stride, batch_size=batch_size, batch_tokens=batch_tokens,
                            progress=progress, per_token=per_token, resume=resume, ray=ray,
                            workers=workers, load_options=load_options, func="score_bytes")


def score_text(model: TokenModel | str, source: Any, *, window: int | None = None,
               stride: int | None = None, batch_size: int | None = None, batch_tokens: int | None = None,
               progress: bool = False, per_token: bool = True, resume: str | os.PathLike | None = None,
               ray: str | None = None, workers: int | None = None,
               load_options: dict | None = None) -> ScoreResult:
    """Score a text, a file, a directory or a JSONL corpus: bits/token and bits/byte by totals.

    Parameters
    ----------
    model : TokenModel or str
    source : str, pathlib.Path or list
        A str is the text itself; a ``pathlib.Path`` names a file, a directory (its ``*.txt``,
        ``*.md``, ``*.rst`` files, recursively, sorted) or a ``.jsonl`` file (field ``"text"`` per
        line); a list holds one str/bytes per document.
    window, stride, batch_size, batch_tokens, progress, per_token, resume, ray, workers, load_options
        As in :func:`score_bytes`.

    Returns
    -------
    ScoreResult
        One row per document; corpus figures are ratios of totals over all documents.
    """
    return _score_documents(model, read_documents(source), window=window, stride=stride,
                            batch_size=batch_size, batch_tokens=batch_tokens, progress=progress,
                            per_token=per_token, resume=resume, ray=ray, workers=workers,
                            load_options=load_options, func="score_text")
