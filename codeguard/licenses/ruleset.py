"""The rules of the license database as word ids: read from ``licensedcode-data``, or shipped.

Reading the database (YAML front matter of ~37k files, then tokenizing ~22 MB of rule text)
takes 10-15 s; everything the rule index holds besides it is NumPy over the word ids (about a
second, ``index.py``). So the package ships the word ids and per-rule attributes of the
pinned database version as one compact file, ``ruleset.xz`` (made by ``make license-rules``,
i.e. ``python -m codeguard.licenses.ruleset``), and the first run derives the index from it.
When the installed database is another version, the rules are read from it as before.

The file is reproducible: the same database version and the same tokenizer give the same
bytes (no timestamps; JSON in a fixed order; one xz stream). Layout, before compression::

    MAGIC  header length (8 bytes, little-endian)  header (JSON)  array bytes...

The header holds the format, the database version, the string tables (vocabulary, rule
identifiers, expressions, license table) and, for each array, its dtype, length and offset.
"""

from __future__ import annotations

import json
import lzma
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from codeguard.licenses import ruledb
from codeguard.licenses.tokenize import rule_words

MAGIC = b"codeguard-license-rules\n"
FORMAT = 1
PACKAGED = Path(__file__).with_name("ruleset.xz")

KINDS = ("text", "notice", "reference", "tag", "intro", "clue", "false_positive")
KIND_CODE = {k: i for i, k in enumerate(KINDS)}

# The arrays a rule set holds (the index derives the rest from them).
BASE_ARRAYS = (
    "tokens", "roff", "kind", "mincov", "relevance", "continuous", "expr",
    "req_rid", "req_start", "req_end",
)  # fmt: skip


@dataclass
class Ruleset:
    """Every matchable rule: word ids (``tokens``, split by ``roff``), attributes, string tables.

    ``meta`` holds ``data_version``, ``vocab`` (word id ``i + 1`` is ``vocab[i]``; 0 is
    reserved for unknown words), ``identifiers``, ``expressions`` and ``licenses``.
    """

    arrays: dict[str, np.ndarray]
    meta: dict[str, object]

    @property
    def data_version(self) -> str:
        return str(self.meta["data_version"])

    def to_bytes(self) -> bytes:
        """The compressed file content (deterministic)."""
        blobs: list[bytes] = []
        table: list[list[object]] = []
        offset = 0
        vocab_size = len(self.meta["vocab"])  # type: ignore[arg-type]
        for name in BASE_ARRAYS:
            arr = np.ascontiguousarray(self.arrays[name])
            if name == "tokens" and vocab_size < 1 << 16:
                arr = arr.astype("<u2")  # half the size: the vocabulary has ~27k words
            arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
            blob = arr.tobytes()
            table.append([name, arr.dtype.str, len(arr), offset])
            blobs.append(blob)
            offset += len(blob)
        header = json.dumps(
            {"format": FORMAT, "arrays": table, "meta": self.meta}, ensure_ascii=True, separators=(",", ":")
        ).encode("ascii")
        payload = b"".join([MAGIC, struct.pack("<Q", len(header)), header, *blobs])
        return lzma.compress(payload, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9)

    @classmethod
    def from_bytes(cls, data: bytes) -> Ruleset:
        """Read a file made by ``to_bytes``; ValueError if it is not one (or another format)."""
        try:
            payload = lzma.decompress(data)
        except lzma.LZMAError as exc:
            raise ValueError(f"not an xz stream: {exc}") from exc
        if not payload.startswith(MAGIC):
            raise ValueError("not a codeguard license rule set")
        at = len(MAGIC)
        (size,) = struct.unpack_from("<Q", payload, at)
        header = json.loads(payload[at + 8 : at + 8 + size])
        if header.get("format") != FORMAT:
            raise ValueError(f"rule set format {header.get('format')}, expected {FORMAT}")
        body = memoryview(payload)[at + 8 + size :]
        arrays: dict[str, np.ndarray] = {}
        for name, dtype, length, offset in header["arrays"]:
            arr = np.frombuffer(body, dtype=np.dtype(dtype), count=length, offset=offset)
            native = np.dtype(np.int32) if name == "tokens" else arr.dtype.newbyteorder("=")
            arrays[name] = arr.astype(native)  # a copy: the payload is freed
        missing = set(BASE_ARRAYS) - set(arrays)
        if missing:
            raise ValueError(f"rule set lacks {sorted(missing)}")
        return cls(arrays, dict(header["meta"]))


def read_database() -> Ruleset:
    """The rules of the installed ``licensedcode-data``: the slow part (YAML and tokenizing).

    Rules are tokenized as they are read and their words kept as small integer arrays (ids in
    order of first appearance, renumbered at the end by rank in the sorted vocabulary), so the
    rule texts and millions of word strings are never held at once.
    """
    licenses: dict[str, dict[str, object]] = {}
    first_seen: dict[str, int] = {}
    seqs: list[np.ndarray] = []
    identifiers: list[str] = []
    expressions: list[str] = []
    kind: list[int] = []
    mincov: list[int] = []
    relevance: list[int] = []
    continuous: list[bool] = []
    req: list[tuple[int, int, int]] = []
    names: list[ruledb.RuleSpec] = []

    seen: set[int] = set()  # hashes of rule word sequences (the words themselves would not fit)

    def add(spec: ruledb.RuleSpec, new_words_only: bool = False) -> None:
        words, spans = rule_words(spec.text)
        said = hash(tuple(words))
        if not words or (new_words_only and (said in seen or not _is_name(words))):
            return
        seen.add(said)
        r = len(identifiers)
        ids = [first_seen.setdefault(w, len(first_seen)) for w in words]
        seqs.append(np.array(ids, dtype=np.int32))
        identifiers.append(spec.identifier)
        expressions.append(spec.expression)
        kind.append(KIND_CODE[spec.kind])
        mincov.append(spec.minimum_coverage)
        relevance.append(spec.relevance)
        continuous.append(spec.is_continuous)
        req.extend((r, a, b) for a, b in spans)

    for info, rule in ruledb.iter_licenses():
        licenses[info.key] = {
            "spdx": info.spdx,
            "other_spdx": list(info.other_spdx),
            "category": info.category,
            "is_exception": info.is_exception,
            "is_deprecated": info.is_deprecated,
            "short_name": info.short_name,
        }
        if rule is not None:
            add(rule)
        names.extend(ruledb.name_rules(info))
    for spec in ruledb.iter_rules():
        add(spec)
    # names last, and only those that no rule already says word for word (its label wins)
    for spec in names:
        add(spec, new_words_only=True)

    vocab = sorted(first_seen)
    rank = np.empty(len(first_seen), dtype=np.int32)
    rank[[first_seen[w] for w in vocab]] = np.arange(1, len(vocab) + 1, dtype=np.int32)
    rlen = np.array([len(s) for s in seqs], dtype=np.int64)
    roff = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(rlen, out=roff[1:])
    tokens = rank[np.concatenate(seqs)] if seqs else np.zeros(0, dtype=np.int32)
    expr_list = sorted(set(expressions))
    expr_code = {e: i for i, e in enumerate(expr_list)}
    req_arr = np.array(req, dtype=np.int32).reshape(-1, 3)
    arrays = {
        "tokens": tokens,
        "roff": roff,
        "kind": np.array(kind, dtype=np.int8),
        "mincov": np.array(mincov, dtype=np.int16),
        "relevance": np.array(relevance, dtype=np.int16),
        "continuous": np.array(continuous, dtype=np.bool_),
        "expr": np.array([expr_code[e] for e in expressions], dtype=np.int32),
        "req_rid": req_arr[:, 0].copy(),
        "req_start": req_arr[:, 1].copy(),
        "req_end": req_arr[:, 2].copy(),
    }
    meta: dict[str, object] = {
        "data_version": ruledb.data_version(),
        "vocab": vocab,
        "identifiers": identifiers,
        "expressions": expr_list,
        "licenses": licenses,
    }
    return Ruleset(arrays, meta)


def _is_name(words: list[str]) -> bool:
    """Whether a license name's words can stand for it: enough of them, two of them words
    (markup words are dropped: "H2 1.0" is "1 0", which every version number reads)."""
    return len(words) >= ruledb.NAME_MIN_WORDS and sum(w.isalpha() for w in words) >= 2


def load(path: Path = PACKAGED) -> Ruleset | None:
    """The rule set in ``path`` (by default the shipped one); None if it is missing or unreadable."""
    try:
        return Ruleset.from_bytes(path.read_bytes())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    """``python -m codeguard.licenses.ruleset [OUT]``: write the rule set of the installed database."""
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else PACKAGED
    data = read_database().to_bytes()
    out.write_bytes(data)
    print(f"{out}: {len(data) / 1e6:.2f} MB, licensedcode-data {ruledb.data_version()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
