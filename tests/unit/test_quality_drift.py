"""Drift metrics equal NumPy/SciPy on the same bins; profiles and sketches merge and round-trip."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from steward.quality.drift import (
    JS_THRESHOLD,
    OTHER,
    PSI_EPSILON,
    PSI_THRESHOLD,
    CategoricalBins,
    DriftProfile,
    NumericBins,
    Sketch,
    binned_ks,
    embedding_centroid,
    embedding_features,
    js_distance,
    psi,
)

EXACT = 1e-12


def _numpy_psi(ref: np.ndarray, cur: np.ndarray) -> float:
    p = np.clip(ref / ref.sum(), PSI_EPSILON, None)
    q = np.clip(cur / cur.sum(), PSI_EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


def _numpy_ks(ref: np.ndarray, cur: np.ndarray) -> float:
    return float(np.max(np.abs(np.cumsum(ref / ref.sum()) - np.cumsum(cur / cur.sum()))))


def _columns(n: int, seed: int, shift: float = 0.0) -> dict[str, list[object]]:
    rng = np.random.default_rng(seed)
    return {
        "age": (rng.normal(40 + shift * 10, 12, n)).tolist(),
        "income": rng.lognormal(10, 1 + shift, n).tolist(),
        "count": rng.poisson(2 + shift * 3, n).tolist(),  # ints with heavy ties
        "country": rng.choice(
            ["DE", "FR", "US", "JP"], n, p=[0.4, 0.3, 0.2, 0.1] if not shift else None
        ).tolist(),
    }


@pytest.mark.parametrize("n", [1, 2, 10, 1000, 100_000])
def test_metrics_equal_numpy_and_scipy_on_the_same_bins(n: int) -> None:
    profile = DriftProfile.build(_columns(max(n, 50), seed=1))
    live = profile.sketch(_columns(n, seed=n, shift=0.3))
    for name, bins in profile.features.items():
        ref = np.array(profile.reference.counts[name], dtype=float)
        cur = np.array(live.counts[name], dtype=float)
        assert psi(profile.reference.counts[name], live.counts[name]) == pytest.approx(
            _numpy_psi(ref, cur), rel=EXACT, abs=1e-15
        )
        assert js_distance(profile.reference.counts[name], live.counts[name]) == pytest.approx(
            float(jensenshannon(ref, cur, base=2)), rel=1e-9, abs=1e-12
        )
        report = profile.report(live).features[name]
        if bins.kind == "numeric":
            assert report.ks == pytest.approx(_numpy_ks(ref, cur), rel=EXACT, abs=1e-15)
            assert binned_ks(profile.reference.counts[name], live.counts[name]) == report.ks
        else:
            assert report.ks is None
        assert report.live_count == n


def test_numeric_edges_are_numpy_quantiles_deduplicated_with_open_outer_bins() -> None:
    values = np.random.default_rng(5).normal(0, 1, 1001)
    bins = NumericBins.from_values(values.tolist(), "x", n_bins=10)
    expected = np.unique(np.quantile(values, np.arange(1, 10) / 10))
    assert bins.edges == pytest.approx(expected.tolist(), rel=EXACT)
    assert bins.size == 10
    assert bins.index(-1e300, "x") == 0 and bins.index(1e300, "x") == 9
    assert bins.index(float("-inf"), "x") == 0 and bins.index(float("inf"), "x") == 9
    assert bins.index(bins.edges[0], "x") == 1  # left-closed [e_i, e_i+1)

    ties = NumericBins.from_values([0] * 90 + [1] * 10, "x")
    assert ties.edges == tuple(sorted(set(np.quantile([0] * 90 + [1] * 10, np.arange(1, 10) / 10).tolist())))
    constant = NumericBins.from_values([3.0] * 5, "x")
    assert constant.edges == (3.0,) and constant.size == 2


def test_identical_distributions_give_zero_and_a_shift_drifts() -> None:
    reference = _columns(20_000, seed=11)
    profile = DriftProfile.build(reference)
    same = profile.report(profile.sketch(reference))
    for drift in same.features.values():
        assert drift.psi == pytest.approx(0.0, abs=1e-12)
        assert drift.js_distance == pytest.approx(0.0, abs=1e-7)
        assert drift.ks in (None, pytest.approx(0.0, abs=1e-12))
        assert not drift.drifted
    assert same.share_drifted == 0.0 and same.drifted_features == []

    resample = profile.report(profile.sketch(_columns(20_000, seed=12)))
    assert resample.drifted_features == []  # sampling noise stays under the thresholds

    shifted = profile.report(profile.sketch(_columns(20_000, seed=13, shift=1.0)))
    assert set(shifted.drifted_features) == {"age", "income", "count", "country"}
    assert shifted.share_drifted == 1.0
    assert all(d.psi is not None and d.psi > PSI_THRESHOLD for d in shifted.features.values())
    assert shifted.psi_threshold == PSI_THRESHOLD and shifted.js_threshold == JS_THRESHOLD
    json.dumps(shifted.to_dict())  # JSON-ready

    # Only one feature shifted: share 1/4, thresholds adjustable.
    partial = _columns(20_000, seed=14)
    partial["age"] = (np.asarray(partial["age"], dtype=float) + 15).tolist()
    report = profile.report(profile.sketch(partial))
    assert report.drifted_features == ["age"] and report.share_drifted == 0.25
    assert profile.report(profile.sketch(partial), psi_threshold=100, js_threshold=1).drifted_features == []


def test_categorical_unseen_values_land_in_other() -> None:
    profile = DriftProfile.build({"country": ["DE", "FR", "DE", "US"], "flag": [True, False, True, True]})
    bins = profile.features["country"]
    assert isinstance(bins, CategoricalBins)
    assert bins.labels() == ["DE", "FR", "US", OTHER]
    assert profile.features["flag"].kind == "categorical"  # bools are categories, not numbers
    live = profile.sketch({"country": ["BR", "DE", "XX", OTHER]})
    assert live.counts["country"] == [1, 0, 0, 3]
    capped = CategoricalBins.from_values(["a"] * 3 + ["b"] * 2 + ["c"], max_categories=2)
    assert capped.categories == ("a", "b") and capped.index("c", "f") == 2


def test_forced_categorical_and_rows() -> None:
    profile = DriftProfile.build({"zip": [10115, 80331, 10115], "x": [1.0, 2.0, 3.0]}, categorical={"zip"})
    assert profile.features["zip"].kind == "categorical"
    rows = profile.sketch_rows([{"zip": 10115, "x": 2.5}, {"zip": 99999}, {"unrelated": "ignored"}])
    assert rows.counts["zip"] == [1, 0, 1]
    assert sum(rows.counts["x"]) == 1
    assert rows == profile.sketch({"zip": [10115, 99999], "x": [2.5]})


def test_sketches_merge_and_round_trip() -> None:
    reference = _columns(1000, seed=21)
    profile = DriftProfile.build(reference)
    live = _columns(1000, seed=22, shift=0.5)
    first = profile.sketch({k: v[:400] for k, v in live.items()})
    second = profile.sketch({k: v[400:] for k, v in live.items()})
    assert first + second == profile.sketch(live)
    assert first.total("age") == 400

    text = json.dumps(first.to_dict())
    assert Sketch.from_dict(json.loads(text)) == first
    assert Sketch.from_dict(json.loads(text, parse_int=Decimal)) == first

    profile_text = json.dumps(profile.to_dict())
    assert "." not in json.dumps(profile.to_dict()["reference"])  # counts only, no float
    restored = DriftProfile.from_dict(json.loads(profile_text, parse_int=Decimal))
    assert restored == profile and restored.fingerprint == profile.fingerprint
    assert restored.report(first + second) == profile.report(first + second)

    other = DriftProfile.build(_columns(1000, seed=23))
    with pytest.raises(ValueError, match="different drift profiles"):
        first.merge(other.sketch(live))
    with pytest.raises(ValueError, match="another drift profile"):
        profile.report(other.sketch(live))


def test_empty_live_features_are_not_evaluated() -> None:
    profile = DriftProfile.build({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "a"]})
    report = profile.report(profile.sketch({"x": [2.0]}))
    assert report.features["c"].psi is None and not report.features["c"].drifted
    assert report.share_drifted is not None and report.drifted_features in ([], ["x"])
    nothing = profile.report(profile.sketch({}))
    assert nothing.share_drifted is None and nothing.drifted_features == []


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"x": [1.0, float("nan")]}, "NaN"),
        ({"x": []}, "no reference value"),
        ({"x": [float("inf")]}, "no finite"),
    ],
)
def test_bad_reference_data_raises(columns: dict[str, list[object]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DriftProfile.build(columns)


def test_bad_live_values_raise_without_echoing_them() -> None:
    profile = DriftProfile.build({"x": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="numeric") as error:
        profile.sketch({"x": ["secret-value"]})
    assert "secret-value" not in str(error.value)
    with pytest.raises(ValueError, match="NaN"):
        profile.sketch_rows([{"x": float("nan")}])
    with pytest.raises(ValueError, match="differ in length"):
        psi([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="no observation"):
        js_distance([0, 0], [1, 1])


def test_embedding_features_match_numpy_and_drift_like_numeric_features() -> None:
    rng = np.random.default_rng(31)
    reference = rng.normal(0, 1, (500, 16)) + 2.0
    centroid = embedding_centroid(reference.tolist())
    assert centroid == pytest.approx(reference.mean(axis=0).tolist(), rel=EXACT)
    one = reference[0]
    features = embedding_features(one.tolist(), centroid)
    assert features["embedding_norm"] == pytest.approx(float(np.linalg.norm(one)), rel=EXACT)
    cosine = float(one @ np.asarray(centroid) / (np.linalg.norm(one) * np.linalg.norm(centroid)))
    assert features["embedding_cosine"] == pytest.approx(cosine, rel=1e-12)
    assert embedding_features([0.0] * 16, centroid)["embedding_cosine"] == 0.0

    def columns(embeddings: np.ndarray) -> dict[str, list[object]]:
        rows = [embedding_features(e.tolist(), centroid) for e in embeddings]
        return {key: [r[key] for r in rows] for key in rows[0]}

    profile = DriftProfile.build(columns(reference))
    assert profile.report(profile.sketch(columns(rng.normal(0, 1, (500, 16)) + 2.0))).drifted_features == []
    # Same norms, opposite direction: only the cosine moves. Twice as long: only the norm moves.
    topic_shift = rng.normal(0, 1, (500, 16)) - 2.0
    assert profile.report(profile.sketch(columns(topic_shift))).drifted_features == ["embedding_cosine"]
    longer = (rng.normal(0, 1, (500, 16)) + 2.0) * 2.0
    assert profile.report(profile.sketch(columns(longer))).drifted_features == ["embedding_norm"]

    with pytest.raises(ValueError, match="dimension"):
        embedding_features([1.0], centroid)
    with pytest.raises(ValueError, match="zero vector"):
        embedding_features([1.0, 2.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="non-finite"):
        embedding_features([math.nan, 1.0], [1.0, 1.0])


def test_numpy_scalars_are_numbers() -> None:
    profile = DriftProfile.build({"x": list(np.arange(10, dtype=np.int64))})
    assert profile.features["x"].kind == "numeric"
    assert sum(profile.sketch({"x": [np.float32(2.5), np.int64(7)]}).counts["x"]) == 2
