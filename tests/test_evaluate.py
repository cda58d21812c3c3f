"""The evaluation harness: metrics on hand-made cases with known answers, the scorers on real
code, the dataset loaders on slices of the shared data, and `codeguard eval` through click."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from codeguard.evaluate import data
from codeguard.evaluate.cli import eval_command
from codeguard.evaluate.metrics import (
    average_precision_at_r,
    best_threshold,
    map_at_r,
    prf,
    reweighted_prf,
    roc_auc,
)
from codeguard.evaluate.scorers import CombinedScorer, EmbeddingScorer, FingerprintScorer, Scorer, rank

DATA = data.data_dir()


def needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not (DATA / name).is_dir(), reason=f"shared dataset {DATA / name} not present")


# --- MAP@R ------------------------------------------------------------------------------------


def test_map_at_r_perfect_and_partial_rankings() -> None:
    labels = ["a", "a", "a", "b", "b", "b"]
    # Query 0 (R = 2) ranks 1, then b-item 3, then 2: one hit at rank 1 in the top 2 -> AP 1/2.
    sim = np.array(
        [
            [0, 0.9, 0.5, 0.7, 0.1, 0.1],
            [0.9, 0, 0.8, 0.1, 0.1, 0.1],
            [0.5, 0.8, 0, 0.1, 0.1, 0.1],
            [0.7, 0.1, 0.1, 0, 0.8, 0.9],
            [0.1, 0.1, 0.1, 0.8, 0, 0.7],
            [0.1, 0.1, 0.1, 0.9, 0.7, 0],
        ]
    )
    # Query 2 ranks 1 (hit), then 0 (hit) -> AP 1; queries 1, 3, 4, 5 are perfect too.
    assert map_at_r(sim, labels) == pytest.approx((0.5 + 5 * 1.0) / 6)
    # The same matrix served block by block gives the same answer.
    assert map_at_r(lambda rows: sim[rows], labels, block=2) == pytest.approx((0.5 + 5) / 6)


def test_map_at_r_hit_at_rank_two() -> None:
    # One query, R = 2, ranking: hit, miss, hit -> precisions 1/1 at rank 1 only within top 2.
    sims = np.array([[-np.inf, 0.9, 0.8, 0.7]])
    rel = np.array([[False, True, False, True]])
    assert average_precision_at_r(sims, rel, np.array([2]))[0] == pytest.approx(0.5)
    # Ranking miss, hit, hit: within the top 2 one hit at rank 2, precision 1/2 -> AP (1/2)/2.
    sims = np.array([[-np.inf, 0.7, 0.9, 0.8]])
    rel = np.array([[False, True, False, True]])
    assert average_precision_at_r(sims, rel, np.array([2]))[0] == pytest.approx(0.25)
    # Both relevant first: AP 1.
    rel = np.array([[False, False, True, True]])
    assert average_precision_at_r(sims, rel, np.array([2]))[0] == pytest.approx(1.0)


def test_map_at_r_ties_follow_the_stated_policy() -> None:
    # Every score equal: the ranking is decided by the tie policy alone.
    labels = ["a", "a", "b", "b", "b", "b"]
    sim = np.zeros((6, 6))
    # Worst: an "a" query (R = 1) sees 4 misses first -> 0; a "b" query (R = 3) sees the 2 misses,
    # then a hit at rank 3 -> (1/3)/3. Mean over the six queries: 4 * (1/9) / 6.
    assert map_at_r(sim, labels, ties="worst") == pytest.approx(4 / 54)
    assert map_at_r(sim, labels, ties="best") == 1.0
    rnd = map_at_r(sim, labels, ties="random", seed=3)
    assert 0.0 < rnd < 1.0
    assert rnd == map_at_r(sim, labels, ties="random", seed=3)  # seeded: reproducible
    # Ties do not reorder strictly ordered scores.
    ordered = np.where(np.equal.outer(labels, labels), 1.0, 0.0)
    assert map_at_r(ordered, labels, ties="worst") == 1.0


def test_map_at_r_skips_singletons() -> None:
    # "c" has no other member: nothing to retrieve, so it does not count as a zero.
    sim = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=float)
    assert map_at_r(sim, ["a", "a", "c"]) == 1.0


# --- P/R/F1, thresholds, AUC --------------------------------------------------------------------


def test_prf_counts_and_zero_division() -> None:
    r = prf(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 1, 0, 1]))
    assert (r.tp, r.fp, r.fn, r.tn) == (2, 1, 1, 1)
    assert r.precision == pytest.approx(2 / 3) and r.recall == pytest.approx(2 / 3)
    assert r.f1 == pytest.approx(2 / 3)
    none = prf(np.zeros(3), np.array([1, 0, 1]))
    assert (none.precision, none.recall, none.f1) == (0.0, 0.0, 0.0)


def test_best_threshold_never_splits_ties() -> None:
    scores = np.array([0.9, 0.8, 0.8, 0.1])
    labels = np.array([1, 1, 0, 0])
    # t = 0.9: F1 2/3; t = 0.8 takes both tied items: P 2/3, R 1, F1 0.8; t = 0.1: F1 2/3.
    t, f1 = best_threshold(scores, labels)
    assert t == 0.8 and f1 == pytest.approx(0.8)
    assert prf(scores >= t, labels).f1 == pytest.approx(f1)
    assert best_threshold(scores, np.zeros(4))[0] == float("inf")


def test_roc_auc_counts_ties_half() -> None:
    # Positive-negative pairs: 0.9>0.8, 0.9>0.1, 0.8=0.8 (one half), 0.8>0.1 -> 3.5 / 4.
    assert roc_auc(np.array([0.9, 0.8, 0.8, 0.1]), np.array([1, 1, 0, 0])) == pytest.approx(0.875)
    assert roc_auc(np.array([0.1, 0.2]), np.array([1, 0])) == 0.0


def test_reweighted_prf_uses_the_natural_prior() -> None:
    scores = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    labels = np.array([1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    r = reweighted_prf(scores, labels, 0.5, prior=0.5)  # TPR 1/2, FPR 1/10
    assert r["recall"] == 0.5 and r["fpr"] == pytest.approx(0.1)
    assert r["precision"] == pytest.approx(0.25 / (0.25 + 0.05))


# --- scorers on real code ----------------------------------------------------------------------

BINARY_SEARCH = """\
int find(const int *values, int count, int wanted) {
    int low = 0, high = count - 1;
    while (low <= high) {
        int middle = low + (high - low) / 2;
        if (values[middle] == wanted) {
            return middle;
        } else if (values[middle] < wanted) {
            low = middle + 1;
        } else {
            high = middle - 1;
        }
    }
    return -1;
}
"""
# Renamed and reformatted: the normalized token stream is the same.
RENAMED = """\
int locate(const int *arr, int n, int key)
{
    int lo = 0, hi = n - 1;
    while (lo <= hi)
    {
        int mid = lo + (hi - lo) / 2;
        if (arr[mid] == key) { return mid; }
        else if (arr[mid] < key) { lo = mid + 1; }
        else { hi = mid - 1; }
    }
    return -1;
}
"""
UNRELATED = """\
#include <stdio.h>
struct node { struct node *next; char name[32]; };
void print_all(struct node *head, FILE *out) {
    for (struct node *p = head; p != NULL; p = p->next) {
        fprintf(out, "%s\\n", p->name);
        fflush(out);
    }
    while (head) { struct node *n = head->next; free(head); head = n; }
}
"""
ITEMS = [("orig", BINARY_SEARCH, "c"), ("renamed", RENAMED, "c"), ("other", UNRELATED, "c")]


def test_fingerprint_scorer_ranks_a_renamed_copy_first() -> None:
    scorer = FingerprintScorer()
    assert isinstance(scorer, Scorer)
    scorer.prepare(ITEMS)
    assert rank(scorer, ["orig"], ["orig", "other", "renamed"], top=2) == [["renamed", "other"]]
    for variant in scorer.variants:
        scorer.variant = variant
        renamed, other = scorer.score([("orig", "renamed"), ("orig", "other")])
        assert renamed == pytest.approx(1.0) and other < 0.5, variant


def test_fingerprint_similarity_matches_set_arithmetic() -> None:
    # Small k so that the unrelated program shares some fingerprints with the others.
    scorer = FingerprintScorer(k=3, w=2)
    scorer.prepare(ITEMS)
    sets = [set(h.tolist()) for h in scorer._hashes]
    ids = [i for i, _, _ in ITEMS]
    for variant, expected in {
        "jaccard": lambda a, b: len(a & b) / len(a | b),
        "containment": lambda a, b: len(a & b) / min(len(a), len(b)),
        "cosine": lambda a, b: len(a & b) / np.sqrt(len(a) * len(b)),
    }.items():
        scorer.variant = variant
        sim = scorer.similarity(ids, ids)
        pairs = scorer.score([(x, y) for x in ids for y in ids]).reshape(3, 3)
        want = np.array([[expected(a, b) for b in sets] for a in sets])
        np.testing.assert_allclose(sim, want)
        np.testing.assert_allclose(pairs, want)
    assert 0 < want[0, 2] < 1  # the case is not trivial


def test_fingerprint_scorer_records_unparseable_input_and_goes_on() -> None:
    scorer = FingerprintScorer()
    scorer.prepare([("bad", "int x;", "no-such-language"), *ITEMS])
    assert "bad" in scorer.failures
    assert scorer.score([("bad", "orig")])[0] == 0.0


class HashedBagOfTokens:
    """A deterministic embedder: whitespace tokens hashed (crc32) into 64 buckets, unit norm."""

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for i, text in enumerate(texts):
            for tok in text.split():
                out[i, zlib.crc32(tok.encode()) % 64] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def test_embedding_scorer_plugs_any_embedder() -> None:
    emb = HashedBagOfTokens()
    scorer = EmbeddingScorer(emb, batch_size=2)
    assert isinstance(scorer, Scorer)
    reformatted = ("reformatted", "\n\n".join(BINARY_SEARCH.split("\n")), "c")
    scorer.prepare([*ITEMS, reformatted])
    scorer.prepare(ITEMS)  # already embedded: no new calls
    assert emb.calls == 2
    same, other = scorer.score([("orig", "reformatted"), ("orig", "other")])
    assert same == pytest.approx(1.0, abs=1e-6) and other < same
    assert rank(scorer, ["orig"], ["other", "reformatted"], top=1) == [["reformatted"]]
    sim = scorer.similarity(["orig"], ["orig", "other"])
    assert sim.shape == (1, 2) and sim[0, 0] == pytest.approx(1.0, abs=1e-6)


def test_combined_scorer_max_and_fitted_mix() -> None:
    fp, emb = FingerprintScorer(), EmbeddingScorer(HashedBagOfTokens())
    combined = CombinedScorer([fp, emb], mode="max")
    combined.prepare(ITEMS)
    pairs = [("orig", "renamed"), ("orig", "other"), ("renamed", "other")]
    np.testing.assert_allclose(combined.score(pairs), np.maximum(fp.score(pairs), emb.score(pairs)))
    f1 = combined.fit(pairs, [1, 0, 0])
    assert f1 == 1.0 and combined.mode == "weighted" and combined.weights.sum() == pytest.approx(1.0)
    assert combined.similarity(["orig"], ["renamed", "other"]).shape == (1, 2)


def test_combined_scorer_offers_its_weights_as_variants() -> None:
    fp, emb = FingerprintScorer(), EmbeddingScorer(HashedBagOfTokens())
    combined = CombinedScorer([fp, emb], mode="weighted", grid=4)
    assert isinstance(combined, Scorer)
    assert combined.variants == ("w=0,1", "w=0.25,0.75", "w=0.5,0.5", "w=0.75,0.25", "w=1,0")
    assert combined.retrieval_variants == combined.variants
    combined.prepare(ITEMS)
    pairs = [("orig", "renamed"), ("orig", "other")]
    combined.variant = "w=1,0"
    np.testing.assert_allclose(combined.score(pairs), fp.score(pairs))
    combined.variant = "w=0.25,0.75"
    np.testing.assert_allclose(combined.score(pairs), 0.25 * fp.score(pairs) + 0.75 * emb.score(pairs))
    sim = combined.similarity(["orig"], ["renamed", "other"])
    np.testing.assert_allclose(
        sim,
        0.25 * fp.similarity(["orig"], ["renamed", "other"])
        + 0.75 * emb.similarity(["orig"], ["renamed", "other"]),
    )
    combined.fit(pairs, [1, 0], steps=4)
    assert combined.variant in combined.variants
    with pytest.raises(ValueError):
        combined.variant = "bogus"


# --- loaders on slices of the shared data -------------------------------------------------------


@needs("poj104")
def test_poj104_loader_spreads_a_limit_over_problems() -> None:
    d = data.load_poj104("test", limit=48)
    assert len(d.items) == 48 and len(set(d.labels)) == 24
    assert all(lang == "cpp" and code for _, code, lang in d.items)


@needs("bigclonebench-codexglue")
def test_bcb_loaders_read_pairs_and_their_functions() -> None:
    ps = data.load_bcb_pairs("test_head2000", limit=20)
    assert len(ps.pairs) == 20 and set(ps.labels) <= {0, 1}
    ids = {i for p in ps.pairs for i in p}
    funcs = data.load_bcb_functions(ids)
    assert {i for i, _, _ in funcs} == ids


@needs("gcj-deepsim")
def test_gcj_loader_and_validation_pairs_share_ids() -> None:
    d = data.load_gcj(limit=24)
    assert len(set(d.labels)) == 12 and all(i.endswith(".java") for i, _, _ in d.items)
    vp = data.load_gcj_valid_pairs()
    assert len(vp.pairs) == 500 and sum(vp.labels) == 97
    full = {i for i, _, _ in data.load_gcj().items}
    assert len(full) == 1665 and all(a in full and b in full for a, b in vp.pairs)


@needs("soco-fire2014-train")
def test_soco_loader_reads_files_and_qrels() -> None:
    c = data.load_soco("c")
    assert len(c.items) == 79 and len(c.positives) == 26
    j = data.load_soco("java", limit=10)
    assert len(j.items) == 10 and all(len(p) == 2 for p in j.positives)


def test_missing_data_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    result = CliRunner().invoke(eval_command, ["--benchmark", "soco", "--limit", "5"])
    assert result.exit_code == 4
    assert "CODEGUARD_DATA" in result.output


def test_help_and_readme_say_where_the_data_is_read_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eval --help` and the README name the locations data_dir() looks in, in its order."""
    help_text = " ".join(CliRunner().invoke(eval_command, ["--help"]).output.split())
    assert (
        "$CODEGUARD_DATA, else ../shared/data beside the codeguard source checkout, else /work/shared/data"
        in help_text
    )
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert (
        "codeguard eval --benchmark poj104 --scorer model   # clone benchmarks: $CODEGUARD_DATA, else ../shared/data"
        in readme
    )
    # ... which is what the code does
    assert data.REPO_ROOT == Path(__file__).resolve().parents[1]
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path))
    assert data.data_dir() == tmp_path
    monkeypatch.delenv(data.DATA_ENV)
    beside = data.REPO_ROOT.parent / "shared" / "data"
    assert data.data_dir() == (beside if beside.is_dir() else data.FALLBACK)


# --- the command -----------------------------------------------------------------------------------


@needs("soco-fire2014-train")
@needs("poj104")
@needs("bigclonebench-codexglue")
@needs("gcj-deepsim")
def test_eval_command_runs_every_benchmark_small() -> None:
    args = ["--benchmark", "all", "--limit", "48", "--json"]
    result = CliRunner().invoke(eval_command, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    got = {r["benchmark"]: r for r in out["results"]}
    assert set(got) == {"poj104", "bcb", "gcj", "soco"}
    assert got["poj104"]["n_programs"] == 48 and 0 <= got["poj104"]["value"] <= 100
    assert got["poj104"]["ties_worst"] <= got["poj104"]["value"] <= got["poj104"]["ties_best"]
    assert got["bcb"]["n_pairs"] == 48 and 0 <= got["bcb"]["value"] <= 1
    assert got["gcj"]["threshold"] is not None  # validation pairs kept even in a quick run
    assert got["soco"]["per_language"]["c"]["files"] == 48
    table = CliRunner().invoke(eval_command, ["--benchmark", "soco", "--limit", "30"])
    assert table.exit_code == 0 and table.output.startswith("| benchmark |")


def test_eval_command_model_scorers_need_a_model() -> None:
    result = CliRunner().invoke(eval_command, ["--benchmark", "bcb", "--scorer", "model"])
    assert result.exit_code == 2 and "--model" in result.output


def test_eval_command_missing_model_is_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    args = ["--benchmark", "bcb", "--scorer", "model", "--model", str(tmp_path / "nope")]
    result = CliRunner().invoke(eval_command, args)
    assert result.exit_code not in (0, 2) and "nope" in result.output


@needs("bigclonebench-codexglue")
@pytest.mark.parametrize("scorer", ["model", "combined"])
def test_eval_command_scores_with_a_trained_model(
    scorer: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from test_ml_train import trained_model

    model = trained_model(tmp_path_factory.mktemp("ml"))
    args = ["--benchmark", "bcb", "--limit", "24", "--scorer", scorer, "--model", str(model), "--json"]
    result = CliRunner().invoke(eval_command, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["model"] == str(model)
    (bcb,) = out["results"]
    assert bcb["n_pairs"] == 24 and 0 <= bcb["value"] <= 1
    if scorer == "combined":
        assert bcb["variant"].startswith("w=") and len(bcb["validation"]) == 11
    else:
        assert set(bcb["validation"]) == {"cosine", "head"}  # embedding cosine vs the pair head
