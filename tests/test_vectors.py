"""Chunk embeddings in the reference index and the FAISS vector index over them.

Everything goes through the real CLI with a tiny BERT built and exported here (``--model DIR``;
skipped where torch is absent). SQLite is checked directly: it is the source of truth, the FAISS
file only a cache of it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from codeguard.index import vectors
from codeguard.index.store import IndexStore
from codeguard.index.vectors import CACHE_NAME, MIN_EMBED_TOKENS, chunk_text, open_vectors

pytest.importorskip("onnxruntime")
pytest.importorskip("faiss")

STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Two real sources: enough chunks (a few dozen) to make nearest-neighbour search meaningful.
SOURCES = {"wrap": ["textwrap.py", "heapq.py"], "misc": ["bisect.py", "colorsys.py"]}


# -- fixtures --------------------------------------------------------------------------------------
def tiny_model(root: Path) -> Path:
    """The untrained tiny BERT of ``test_ml_train.make_tiny_bert`` exported as a codeguard model
    (about 1 s). Untrained, but its WordPiece vocabulary covers code, so different chunks get
    clearly different embeddings, which nearest-neighbour tests need."""
    transformers = pytest.importorskip("transformers")
    from test_ml_train import make_tiny_bert

    from codeguard.ml.card import HeadInfo, ModelCard
    from codeguard.ml.export import export_model
    from codeguard.ml.head import PairHead

    base = make_tiny_bert(root / "base")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(base), local_files_only=True)
    assert len(tokenizer) > 200
    encoder = transformers.AutoModel.from_pretrained(str(base), local_files_only=True).eval()
    head = PairHead(w2=np.zeros((2 * 32 + 1, 1), np.float32), b2=np.zeros(1, np.float32))
    card = ModelCard(
        model_id="tiny-vectors",
        base="tiny-bert",
        dim=32,
        max_length=64,
        pooling="mean",
        head=HeadInfo(hidden=0),
    )
    return export_model(encoder, tokenizer, head, card, root / "model")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("ml"))


@pytest.fixture(scope="module")
def other_model(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same weights under another model id (a different model, as far as the index knows)."""
    dst = shutil.copytree(model_dir, tmp_path_factory.mktemp("other") / "model")
    card = json.loads((dst / "codeguard-model.json").read_text())
    card["model_id"] = "another-model"
    (dst / "codeguard-model.json").write_text(json.dumps(card))
    return dst


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("corpora")
    out = {}
    for name, files in SOURCES.items():
        (root / name).mkdir()
        for f in files:
            shutil.copy(STDLIB / f, root / name / f)
        out[name] = root / name
    return out


def model_id(model: Path) -> str:
    return str(json.loads((model / "codeguard-model.json").read_text())["model_id"])


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, corpora: dict[str, Path], model_dir: Path, add_json: Any
) -> tuple[Path, dict[str, dict[str, Any]]]:
    """An index of both sources embedded with the tiny model, and the two add summaries."""
    index = tmp_path_factory.mktemp("built") / "index"
    summaries = {
        name: add_json(corpora[name], index, "--name", name, "--model", model_dir) for name in SOURCES
    }
    return index, summaries


@pytest.fixture
def index(built: tuple[Path, Any], tmp_path: Path) -> Path:
    """A private copy of the built index (tests change it)."""
    return Path(shutil.copytree(built[0], tmp_path / "index"))


def db_rows(index: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(index / "index.db") as conn:
        rows = conn.execute(sql, args).fetchall()
    conn.close()
    return rows


def eligible(index: Path, source: str | None = None) -> set[int]:
    sql = """SELECT c.id FROM chunks c JOIN files f ON c.file_id = f.id JOIN sources s ON f.source_id = s.id
             WHERE c.end_tok - c.start_tok >= ?"""
    args: list[Any] = [MIN_EMBED_TOKENS]
    if source:
        sql += " AND s.name = ?"
        args.append(source)
    return {r[0] for r in db_rows(index, sql, *args)}


def embedded(index: Path) -> set[int]:
    return {r[0] for r in db_rows(index, "SELECT chunk_id FROM embeddings")}


def meta(index: Path, key: str) -> Any:
    rows = db_rows(index, "SELECT value FROM meta WHERE key = ?", key)
    return json.loads(rows[0][0]) if rows else None


def list_json(run_cli: Any, index: Path) -> dict[str, Any]:
    code, out, err = run_cli("index", "list", "--index", index, "--json")
    assert code == 0, err
    return dict(json.loads(out))


def chunk_texts(index: Path, ids: list[int]) -> list[str]:
    """The text each chunk was embedded from, rebuilt from the stored file content."""
    store = IndexStore.open(index)
    try:
        out = []
        for cid in ids:
            file_id, start, end = db_rows(
                index, "SELECT file_id, start_line, end_line FROM chunks WHERE id = ?", cid
            )[0]
            out.append(chunk_text(store.file_bytes(file_id), start, end))
        return out
    finally:
        store.close()


def unique_text_chunks(index: Path, n: int) -> list[int]:
    """``n`` embedded chunks whose texts occur once in the index."""
    ids = sorted(embedded(index))
    texts = chunk_texts(index, ids)
    counts: dict[str, int] = {}
    for t in texts:
        counts[t] = counts.get(t, 0) + 1
    picked = [cid for cid, t in zip(ids, texts) if counts[t] == 1]
    step = max(1, len(picked) // n)
    return picked[::step][:n]


# -- chunk_text ------------------------------------------------------------------------------------
def test_chunk_text_takes_whole_lines_one_based_inclusive() -> None:
    content = b"a = 1\nb = 2\r\nc = 3\n\nd = 4"
    assert chunk_text(content, 1, 1) == "a = 1"
    assert chunk_text(content, 2, 3) == "b = 2\r\nc = 3"
    assert chunk_text(content, 4, 5) == "\nd = 4"
    assert chunk_text(content, 5, 99) == "d = 4"  # clamped to the file
    assert chunk_text(b"x = '\xff'\n", 1, 1) == "x = '\ufffd'"  # undecodable bytes replaced
    assert chunk_text(b"", 1, 1) == ""


# -- index add -------------------------------------------------------------------------------------
def test_add_embeds_every_eligible_chunk(built: tuple[Path, Any], model_dir: Path, run_cli: Any) -> None:
    index, summaries = built
    for name in SOURCES:
        assert summaries[name]["embedded"] == len(eligible(index, name)) > 0
        assert summaries[name]["embed_model"] == model_id(model_dir)
        assert summaries[name]["embed_seconds"] >= 0
    assert embedded(index) == eligible(index)
    # Small chunks are not embedded, so there are some to leave out.
    assert db_rows(index, "SELECT COUNT(*) FROM chunks")[0][0] > len(eligible(index))
    blobs = db_rows(index, "SELECT vec FROM embeddings")
    assert {len(b[0]) for b in blobs} == {32 * 2}  # float16
    assert meta(index, "embed_model") == model_id(model_dir)
    assert meta(index, "embed_dim") == 32
    assert meta(index, "vectors_generation") == 2  # one per add
    listing = list_json(run_cli, index)
    assert listing["embeddings"] == {
        "model": model_id(model_dir),
        "dim": 32,
        "vectors": len(eligible(index)),
        "method": "exact",
    }
    assert {s["name"]: s["vectors"] for s in listing["sources"]} == {
        name: len(eligible(index, name)) for name in SOURCES
    }
    code, out, _ = run_cli("index", "list", "--index", index)
    assert code == 0
    assert f"embeddings: {len(eligible(index))} vectors of model {model_id(model_dir)} (dim 32), exact" in out
    # The add leaves a fresh cache behind.
    assert (index / CACHE_NAME).is_file()


def test_readding_unchanged_sources_embeds_nothing(
    index: Path, corpora: dict[str, Path], model_dir: Path, add_json: Any
) -> None:
    before = (embedded(index), meta(index, "vectors_generation"))
    summary = add_json(corpora["wrap"], index, "--name", "wrap", "--model", model_dir)
    assert summary["unchanged"] == 2 and summary["embedded"] == 0
    assert (embedded(index), meta(index, "vectors_generation")) == before


def test_a_changed_file_is_reembedded_and_its_old_vectors_go(
    index: Path, corpora: dict[str, Path], model_dir: Path, add_json: Any, tmp_path: Path
) -> None:
    src = Path(shutil.copytree(corpora["misc"], tmp_path / "misc"))
    old = embedded(index)
    (src / "colorsys.py").write_text((src / "colorsys.py").read_text() + "\n\ndef extra(x):\n    return x\n")
    summary = add_json(src, index, "--name", "misc", "--model", model_dir)
    assert summary["updated"] == 1
    changed = {
        r[0]
        for r in db_rows(
            index,
            "SELECT c.id FROM chunks c JOIN files f ON c.file_id = f.id "
            "WHERE f.path = 'colorsys.py' AND c.end_tok - c.start_tok >= ?",
            MIN_EMBED_TOKENS,
        )
    }
    assert summary["embedded"] == len(changed) > 0
    assert embedded(index) == eligible(index)  # no vector of a deleted chunk survives
    assert len(embedded(index) - old) <= len(changed)


def test_removing_a_source_removes_its_vectors(index: Path, run_cli: Any) -> None:
    generation = meta(index, "vectors_generation")
    code, _, err = run_cli("index", "remove", "wrap", "--index", index)
    assert code == 0, err
    assert embedded(index) == eligible(index) == eligible(index, "misc")
    assert meta(index, "vectors_generation") == generation + 1
    store = IndexStore.open(index)
    vi = open_vectors(store)
    assert vi is not None and len(vi) == len(eligible(index))
    code, _, err = run_cli("index", "remove", "misc", "--index", index)
    assert code == 0, err
    assert embedded(index) == set()
    assert open_vectors(store) is None
    store.close()


# -- search ----------------------------------------------------------------------------------------
def embed(model: Path, texts: list[str]) -> np.ndarray:
    from codeguard.ml.encoder import Encoder

    return Encoder.load(model).embed(texts)


@pytest.mark.parametrize("threshold", [vectors.HNSW_THRESHOLD, 0], ids=["exact", "hnsw"])
def test_an_indexed_chunk_finds_itself_first(
    index: Path, model_dir: Path, threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", threshold)
    ids = unique_text_chunks(index, 8)
    queries = embed(model_dir, chunk_texts(index, ids))
    store = IndexStore.open(index)
    vi = open_vectors(store)
    assert vi is not None
    assert vi.method == ("hnsw" if threshold == 0 else "exact")
    assert (vi.model_id, vi.dim, len(vi)) == (model_id(model_dir), 32, len(eligible(index)))
    scores, hits = vi.search(queries, 5)
    assert scores.shape == hits.shape == (len(ids), 5)
    assert scores.dtype == np.float32 and hits.dtype == np.int64
    assert hits[:, 0].tolist() == ids
    assert np.all(scores[:, 0] > 0.99)  # the same text: cosine 1 up to float16 storage
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    # Asking for more than there is: -1 ids with -inf scores fill the rest.
    scores, hits = vi.search(queries[:1], len(vi) + 3)
    assert (hits[0] == -1).sum() == 3 and np.all(np.isneginf(scores[0][hits[0] == -1]))
    store.close()


def test_vectors_reads_unit_rows_from_sqlite(index: Path, model_dir: Path) -> None:
    ids = unique_text_chunks(index, 3)
    small = sorted(
        r[0] for r in db_rows(index, "SELECT id FROM chunks WHERE end_tok - start_tok < ?", MIN_EMBED_TOKENS)
    )[0]
    store = IndexStore.open(index)
    vi = open_vectors(store)
    assert vi is not None
    got = vi.vectors([ids[2], small, ids[0], ids[1]])
    assert got.shape == (4, 32) and got.dtype == np.float32
    assert np.allclose(np.linalg.norm(got[[0, 2, 3]], axis=1), 1.0, atol=1e-5)
    assert not got[1].any()  # no embedding: a zero row
    want = embed(model_dir, chunk_texts(index, [ids[2], ids[0], ids[1]]))
    assert np.all(np.sum(got[[0, 2, 3]] * want, axis=1) > 0.999)
    # search scores are the inner products of these rows
    scores, hits = vi.search(got[[0]], 1)
    assert hits[0, 0] == ids[2] and abs(scores[0, 0] - 1.0) < 1e-5
    assert vi.vectors([]).shape == (0, 32)
    store.close()


# -- the FAISS cache -------------------------------------------------------------------------------
class Builds:
    """Counts rebuilds of the FAISS index from SQLite."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.n = 0
        real = vectors.build_index

        def counting(*args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(vectors, "build_index", counting)


def search_self(index: Path, model: Path) -> None:
    ids = unique_text_chunks(index, 2)
    store = IndexStore.open(index)
    vi = open_vectors(store)
    assert vi is not None
    _, hits = vi.search(embed(model, chunk_texts(index, ids)), 1)
    assert hits[:, 0].tolist() == ids
    store.close()


def test_a_fresh_cache_is_loaded_not_rebuilt(
    index: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds = Builds(monkeypatch)
    search_self(index, model_dir)
    assert builds.n == 0


@pytest.mark.parametrize("damage", ["deleted", "garbage", "truncated", "flipped", "other-header"])
def test_a_missing_or_damaged_cache_is_rebuilt(
    index: Path, model_dir: Path, damage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = index / CACHE_NAME
    data = cache.read_bytes()
    if damage == "deleted":
        cache.unlink()
    elif damage == "garbage":
        cache.write_bytes(b"\x00garbage" * 100)
    elif damage == "truncated":
        cache.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":  # a byte of the FAISS body (its last one, before the trailer)
        at = vectors.read_header(cache)["bytes"] - 1  # type: ignore[index]
        cache.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    else:  # a well-formed file of another state: the count differs
        header = vectors.read_header(cache)
        assert header is not None
        head = json.dumps(header | {"count": 1}, sort_keys=True).encode()
        trailer = head + len(head).to_bytes(8, "little") + vectors._MAGIC
        cache.write_bytes(data[: header["bytes"]] + trailer)
        assert vectors.read_header(cache) == header | {"count": 1}
    builds = Builds(monkeypatch)
    search_self(index, model_dir)
    assert builds.n == 1
    search_self(index, model_dir)  # ... and written back: the next open loads it
    assert builds.n == 1
    assert not [p for p in index.iterdir() if p.name.endswith(".tmp")]


def test_a_stale_generation_rebuilds_the_cache(
    index: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = IndexStore.open(index)
    with store.transaction() as conn:
        generation = store.bump_vectors_generation(conn)
    store.close()
    builds = Builds(monkeypatch)
    search_self(index, model_dir)
    assert builds.n == 1
    header = vectors.read_header(index / CACHE_NAME)
    assert header is not None and header["generation"] == generation


def test_an_unwritable_cache_stays_in_memory(
    index: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (index / CACHE_NAME).unlink()

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(vectors.os, "replace", refuse)
    search_self(index, model_dir)
    assert sorted(p.name for p in index.iterdir() if "vectors" in p.name) == []


def test_the_method_follows_the_threshold(index: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = IndexStore.open(index)
    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", 0)
    vi = open_vectors(store)
    assert vi is not None and vi.method == "hnsw"
    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", 50_000)
    vi = open_vectors(store)
    assert vi is not None and vi.method == "exact"
    store.close()


# -- models ----------------------------------------------------------------------------------------
def test_another_model_is_refused_with_what_to_do(
    index: Path, corpora: dict[str, Path], other_model: Path, model_dir: Path, run_cli: Any, tmp_path: Path
) -> None:
    before = embedded(index)
    src = Path(shutil.copytree(corpora["misc"], tmp_path / "new"))
    code, out, err = run_cli("index", "add", src, "--name", "new", "--index", index, "--model", other_model)
    assert code == 4, err
    assert model_id(model_dir) in err and "another-model" in err
    assert "codeguard index embed --model" in err and "--no-ml" in err and "--model" in err
    assert "Traceback" not in err
    assert embedded(index) == before
    assert [s["name"] for s in list_json(run_cli, index)["sources"]] == ["misc", "wrap"]


def test_a_different_dimension_is_refused(index: Path, model_dir: Path) -> None:
    from codeguard.engine.indexing import check_model
    from codeguard.ml.card import ModelUnavailable

    store = IndexStore.open(index)
    same_id = SimpleNamespace(card=SimpleNamespace(model_id=model_id(model_dir)), dim=64)
    with pytest.raises(ModelUnavailable, match="dim 32.*dim 64"):
        check_model(store, same_id)  # type: ignore[arg-type]
    store.close()


def test_index_embed_replaces_another_models_vectors(
    index: Path, other_model: Path, model_dir: Path, run_cli: Any, corpora: dict[str, Path]
) -> None:
    generation = meta(index, "vectors_generation")
    code, out, err = run_cli("index", "embed", "--index", index, "--model", other_model, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["embedded"] == len(eligible(index)) == summary["vectors"]
    assert summary["replaced_model"] == model_id(model_dir) and summary["model"] == "another-model"
    assert summary["method"] == "exact"
    assert meta(index, "embed_model") == "another-model"
    assert meta(index, "vectors_generation") == generation + 1
    assert list_json(run_cli, index)["embeddings"]["model"] == "another-model"
    # Now the original model is the other one.
    code, _, err = run_cli(
        "index", "add", corpora["wrap"], "--name", "wrap", "--index", index, "--model", model_dir
    )
    assert code == 4 and "another-model" in err
    # Same model again: nothing to do unless --all.
    code, out, err = run_cli("index", "embed", "--index", index, "--model", other_model, "--json")
    assert code == 0 and json.loads(out)["embedded"] == 0
    assert meta(index, "vectors_generation") == generation + 1
    code, out, err = run_cli("index", "embed", "--index", index, "--model", other_model, "--all")
    assert code == 0, err
    assert f"embedded {len(eligible(index))} chunk(s) with another-model" in out


def test_no_ml_adds_no_vectors_and_embed_adds_them_later(
    corpora: dict[str, Path], model_dir: Path, add_json: Any, run_cli: Any, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    summary = add_json(corpora["wrap"], index, "--no-ml")
    assert summary["embedded"] == 0 and summary["embed_model"] is None
    assert embedded(index) == set()
    store = IndexStore.open(index)
    assert open_vectors(store) is None
    listing = list_json(run_cli, index)
    assert listing["embeddings"] == {"model": None, "dim": None, "vectors": 0, "method": None}
    code, out, _ = run_cli("index", "list", "--index", index)
    assert "embeddings: none" in out
    code, out, err = run_cli("index", "embed", "--index", index, "--model", model_dir, "--json")
    assert code == 0, err
    assert json.loads(out)["embedded"] == len(eligible(index)) > 0
    assert embedded(index) == eligible(index)
    vi = open_vectors(store)
    assert vi is not None and len(vi) == len(eligible(index))
    store.close()


def test_a_re_add_with_a_model_embeds_what_is_missing(
    corpora: dict[str, Path], model_dir: Path, add_json: Any, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    add_json(corpora["wrap"], index, "--name", "wrap", "--no-ml")
    summary = add_json(corpora["wrap"], index, "--name", "wrap", "--model", model_dir)
    assert summary["unchanged"] == 2 and summary["embedded"] == len(eligible(index)) > 0


def test_model_and_no_ml_exclude_each_other(
    corpora: dict[str, Path], model_dir: Path, run_cli: Any, tmp_path: Path
) -> None:
    code, _, err = run_cli(
        "index", "add", corpora["wrap"], "--index", tmp_path / "i", "--model", model_dir, "--no-ml"
    )
    assert code == 2 and "--no-ml" in err
    assert not (tmp_path / "i").exists()


def test_without_a_model_the_add_says_so_once(
    corpora: dict[str, Path], run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import codeguard.ml.card

    monkeypatch.setattr(codeguard.ml.card, "default_model_dir", lambda: None)
    code, out, err = run_cli("index", "add", corpora["wrap"], "--index", tmp_path / "i")
    assert code == 0, err
    assert err.count("no semantic model") == 1 and "fingerprints only" in err
    assert embedded(tmp_path / "i") == set()
    code, _, err = run_cli("index", "embed", "--index", tmp_path / "i")
    assert code == 4 and "--model" in err


def test_a_missing_model_dir_exits_4_before_creating_the_index(
    corpora: dict[str, Path], run_cli: Any, tmp_path: Path
) -> None:
    code, _, err = run_cli(
        "index", "add", corpora["wrap"], "--index", tmp_path / "i", "--model", tmp_path / "none"
    )
    assert code == 4 and "does not exist" in err
    assert not (tmp_path / "i").exists()


def test_boilerplate_sources_are_not_embedded(
    corpora: dict[str, Path], model_dir: Path, add_json: Any, tmp_path: Path
) -> None:
    index = tmp_path / "index"
    summary = add_json(corpora["wrap"], index, "--name", "wrap", "--boilerplate", "--model", model_dir)
    assert summary["embedded"] == 0 and embedded(index) == set()
    summary = add_json(corpora["wrap"], index, "--name", "wrap", "--no-boilerplate", "--model", model_dir)
    assert summary["embedded"] == len(eligible(index)) > 0
    add_json(corpora["wrap"], index, "--name", "wrap", "--boilerplate", "--model", model_dir)
    assert embedded(index) == set()


# -- older indexes ---------------------------------------------------------------------------------
def test_an_index_without_the_embeddings_table_still_works(
    corpora: dict[str, Path], model_dir: Path, add_json: Any, run_cli: Any, tmp_path: Path
) -> None:
    """An index written before embeddings existed: no table, no meta keys."""
    index = tmp_path / "index"
    add_json(corpora["wrap"], index, "--name", "wrap", "--no-ml")
    add_json(corpora["misc"], index, "--name", "misc", "--no-ml")
    with sqlite3.connect(index / "index.db") as conn:
        conn.execute("DROP TABLE embeddings")
        conn.execute("DELETE FROM meta WHERE key = 'vectors_generation'")
    conn.close()
    store = IndexStore.open(index)
    assert not store.has_embeddings_table()
    assert open_vectors(store) is None
    assert store.embedding_info() == {"model": None, "dim": None, "vectors": 0, "generation": 0}
    store.close()
    assert list_json(run_cli, index)["embeddings"]["vectors"] == 0
    code, _, err = run_cli("scan", corpora["wrap"], "--index", index, "--fail-on", "none")
    assert code == 0, err
    code, _, err = run_cli("index", "remove", "misc", "--index", index)
    assert code == 0, err
    summary = add_json(corpora["wrap"], index, "--name", "wrap", "--model", model_dir)
    assert summary["embedded"] == len(eligible(index)) > 0
    assert embedded(index) == eligible(index)


def test_vectors_module_imports_faiss_only_when_used() -> None:
    code = (
        "import sys, codeguard.index.vectors, codeguard.engine.indexing, codeguard.cli; "
        "print('faiss' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# -- built at index time, opened memory-mapped -----------------------------------------------------
def _mapped(path: Path) -> bool:
    """Whether this process has ``path`` memory-mapped (Linux)."""
    return str(path.resolve()) in Path("/proc/self/maps").read_text()


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc/self/maps (Linux)")
@pytest.mark.parametrize("method", ["exact", "hnsw"])
def test_a_scan_maps_the_vector_file_and_finds_the_exact_neighbours(
    corpora: dict[str, Path],
    model_dir: Path,
    add_json: Any,
    tmp_path: Path,
    method: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(vectors, "HNSW_THRESHOLD", 0 if method == "hnsw" else 50_000)
    index = tmp_path / "index"
    for name in SOURCES:
        add_json(corpora[name], index, "--name", name, "--model", model_dir)
    builds = Builds(monkeypatch)
    store = IndexStore.open(index)
    vi = open_vectors(store)
    assert vi is not None and vi.method == method and builds.n == 0 and vi.rebuilt is None
    assert _mapped(index / CACHE_NAME)
    # Exact neighbours, from the vectors in SQLite.
    blobs = store.embedding_blobs()
    ids = np.array(sorted(blobs))
    mat = vectors.decode_vectors([blobs[i] for i in ids.tolist()], vi.dim)
    want = ids[np.argsort(-(mat @ mat.T), axis=1, kind="stable")[:, :5]]
    _, got = vi.search(mat, 5)
    recall = np.mean([len(set(g) & set(w)) / 5 for g, w in zip(got.tolist(), want.tolist())])
    assert recall >= 0.98
    store.close()


def test_an_add_that_only_adds_vectors_adds_them_to_the_file(
    corpora: dict[str, Path], model_dir: Path, add_json: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = tmp_path / "index"
    add_json(corpora["wrap"], index, "--name", "wrap", "--model", model_dir)
    before = vectors.read_header(index / CACHE_NAME)
    builds = Builds(monkeypatch)
    add_json(corpora["misc"], index, "--name", "misc", "--model", model_dir)
    assert builds.n == 0  # not rebuilt from SQLite
    header = vectors.read_header(index / CACHE_NAME)
    assert before is not None and header is not None
    assert header["count"] == len(embedded(index)) > before["count"]
    assert header["generation"] == meta(index, "vectors_generation") == before["generation"] + 1
    search_self(index, model_dir)
    assert builds.n == 0


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_big_index_with_a_broken_vector_file_exits_4_and_embed_rebuilds_it(
    index: Path,
    model_dir: Path,
    corpora: dict[str, Path],
    run_cli: Any,
    damage: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = index / CACHE_NAME
    if damage == "deleted":
        cache.unlink()
    else:
        cache.write_bytes(cache.read_bytes()[:-100])
    monkeypatch.setattr(vectors, "REBUILD_AT_SCAN", 0)  # every index is too big to rebuild at scan
    args = ("scan", corpora["wrap"], "--index", index, "--model", model_dir, "--fail-on", "none")
    code, out, err = run_cli(*args)
    assert code == 4, err
    assert "index embed" in err and CACHE_NAME in err and "Traceback" not in err
    code, _, err = run_cli("index", "embed", "--index", index, "--model", model_dir)
    assert code == 0, err
    code, _, err = run_cli(*args)
    assert code == 0, err


def test_a_small_index_with_a_broken_vector_file_is_rebuilt_with_a_note(
    index: Path, model_dir: Path, corpora: dict[str, Path], run_cli: Any
) -> None:
    (index / CACHE_NAME).write_bytes(b"\x00garbage" * 100)
    code, out, err = run_cli(
        "scan",
        corpora["wrap"],
        "--index",
        index,
        "--model",
        model_dir,
        "--fail-on",
        "none",
        "--format",
        "json",
    )
    assert code == 0, err
    stats = json.loads(out)["stats"]["semantic"]
    assert stats["status"] == "on" and "damaged" in stats["note"]
    assert vectors.read_header(index / CACHE_NAME) is not None  # written back
