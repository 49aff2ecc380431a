"""bench._compare on small synthetic tables whose right answers are known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench._compare import compare, fmt, summary_row, to_markdown

N = 10


def _table(n: int = N, seed: int = 0, key: str = "frame") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {key: np.arange(1, n + 1) if key == "frame" else np.arange(n)}
    if key == "frame":
        columns["success"] = np.ones(n, int)
    columns["confidence"] = np.full(n, 0.98)
    for i in range(68):
        columns[f"x_{i}"] = rng.uniform(100, 200, n)
    for i in range(68):
        columns[f"y_{i}"] = rng.uniform(100, 200, n)
    columns["AU01_r"] = rng.uniform(0, 5, n)
    columns["AU04_r"] = np.zeros(n)  # constant: r undefined
    columns["AU01_c"] = (columns["AU01_r"] > 2.5).astype(float)
    columns["AU28_c"] = np.zeros(n)  # presence only, as in OpenFace
    return pd.DataFrame(columns)


def test_identical_tables_agree_perfectly():
    ref = _table()
    report = compare("clip", ref.copy(), ref)
    assert report.success_agreement == 1.0
    assert report.frames_common == N
    assert report.landmark_error_px == {"median": 0.0, "p95": 0.0, "max": 0.0}
    assert report.confidence_within == 1.0
    figures = {a.name: a for a in report.intensity}
    assert figures["AU01_r"].pearson_r == pytest.approx(1.0)
    assert figures["AU01_r"].mean_abs_error == 0.0
    assert figures["AU04_r"].pearson_r is None  # constant column
    assert report.presence_agreement == {"AU01_c": 1.0, "AU28_c": 1.0}
    summary = report.summary()
    assert summary["min_r"] == pytest.approx(1.0)  # the undefined r is left out, not taken as 0
    assert summary["max_mae"] == 0.0


def test_landmark_shift_gives_its_distance():
    ref = _table()
    ours = ref.copy()
    for i in range(68):
        ours[f"x_{i}"] += 3.0
        ours[f"y_{i}"] -= 4.0
    ours.loc[2, [f"x_{i}" for i in range(68)]] += 6.0  # frame 3: |(9, -4)| = 9.849
    report = compare("clip", ours, ref)
    assert report.landmark_error_px["median"] == pytest.approx(5.0)
    assert report.landmark_error_px["max"] == pytest.approx(np.hypot(9.0, 4.0))


def test_intensity_offset_and_noise():
    ref = _table()
    shifted = ref.copy()
    shifted["AU01_r"] += 0.1
    figures = compare("clip", shifted, ref).intensity[0]
    assert figures.pearson_r == pytest.approx(1.0)
    assert figures.mean_abs_error == pytest.approx(0.1)
    assert figures.max_abs_error == pytest.approx(0.1)
    noisy = ref.copy()
    noisy["AU01_r"] += np.random.default_rng(1).normal(0, 1.0, N)
    worse = compare("clip", noisy, ref).intensity[0]
    expected = np.corrcoef(noisy["AU01_r"], ref["AU01_r"])[0, 1]
    assert worse.pearson_r == pytest.approx(expected)
    assert worse.pearson_r < 0.99
    assert worse.mean_abs_error == pytest.approx(np.abs(noisy["AU01_r"] - ref["AU01_r"]).mean())


def test_success_disagreement_and_missing_frames():
    ref = _table()
    ours = ref.copy()
    ours.loc[0, "success"] = 0
    ours.loc[0, "AU01_r"] = 99.0  # a frame only OpenFace tracked: left out of the AU figures
    ours.loc[1, "confidence"] = 0.5
    ours = ours.iloc[:-1]  # the last frame is missing from ours: counts as failed there
    report = compare("clip", ours, ref)
    assert report.frames_ours == N - 1
    assert report.frames_common == N - 1
    assert report.success_agreement == pytest.approx((N - 2) / N)
    assert report.confidence_within == pytest.approx((N - 2) / (N - 1))
    assert report.intensity[0].max_abs_error == 0.0
    assert report.presence_agreement["AU01_c"] == 1.0


def test_presence_disagreement_counts_every_common_frame():
    ref = _table()
    ours = ref.copy()
    ours["AU28_c"] = 1.0
    ours.loc[[0, 1, 2], "AU28_c"] = 0.0
    report = compare("clip", ours, ref)
    assert report.presence_agreement["AU28_c"] == pytest.approx(3 / N)
    assert report.summary()["min_presence_agreement"] == pytest.approx(3 / N)


def test_images_are_matched_by_face():
    ref = _table(3, key="face")
    ours = ref.iloc[[0, 1]].copy()  # one face fewer found
    report = compare("image", ours, ref)
    assert report.key == "face"
    assert report.success_agreement == pytest.approx(2 / 3)
    assert report.landmark_error_px["max"] == 0.0
    assert "faces: 2 (OpenFace 3, 2 in both)" in to_markdown(report)


def test_missing_key_column_is_an_error():
    ref = _table()
    with pytest.raises(ValueError, match="'frame' or 'face'"):
        compare("clip", ref.drop(columns="frame"), ref)


def test_markdown_shows_the_computed_figures():
    ref = _table()
    ours = ref.copy()
    ours["AU01_r"] += 0.25
    report = compare("clip", ours, ref)
    text = to_markdown(report)
    assert "| AU01 | 1.0000 | 0.2500 | 0.250 | 100.0 % |" in text
    assert "| AU28 | - | - | - | 100.0 % |" in text
    assert "| clip | end-to-end | 10 / 10 | 100.0 % |" in summary_row(report, "end-to-end")
    assert report.to_json()["summary"]["max_mae"] == pytest.approx(0.25)


def test_fmt_keeps_small_numbers_visible():
    assert fmt(None) == "n/a"
    assert fmt(float("nan")) == "n/a"
    assert fmt(0.0) == "0.000"
    assert fmt(2e-6) == "2.0e-06"
    assert fmt(0.5, 1, 100) == "50.0"
