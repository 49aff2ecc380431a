"""Compare an openau output table with OpenFace's, column group by column group.

Both tables are pandas DataFrames with OpenFace's column names (one row per
frame, aligned on ``frame``). Every figure here is computed from the two
tables; nothing is hard-coded, so a worse run always reports worse numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

N_LANDMARKS = 68


@dataclass
class AUFigures:
    """Agreement of one AU column between openau and OpenFace."""

    name: str
    pearson_r: float | None
    mean_abs_error: float
    max_abs_error: float


@dataclass
class ClipReport:
    """Everything measured for one clip."""

    clip: str
    frames_reference: int
    frames_ours: int
    success_agreement: float
    landmark_error_px: dict[str, float] | None
    confidence_within_0_02: float | None
    intensity: list[AUFigures] = field(default_factory=list)
    presence_agreement: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return asdict(self)


def _pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    if a.size < 2 or np.std(a) == 0 or np.std(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def landmark_errors(ours: pd.DataFrame, ref: pd.DataFrame) -> np.ndarray:
    """Per-frame mean Euclidean distance over the 68 landmarks, pixels."""
    xs = [f"x_{i}" for i in range(N_LANDMARKS)]
    ys = [f"y_{i}" for i in range(N_LANDMARKS)]
    dx = ours[xs].to_numpy(float) - ref[xs].to_numpy(float)
    dy = ours[ys].to_numpy(float) - ref[ys].to_numpy(float)
    return np.sqrt(dx**2 + dy**2).mean(axis=1)


def compare(clip: str, ours: pd.DataFrame, ref: pd.DataFrame) -> ClipReport:
    """Compare two frame tables (OpenFace column names) on their common frames.

    Landmark and AU-intensity figures use frames both runs call successful;
    presence agreement uses every common frame (OpenFace's post-processed
    presence is defined on failed frames too).
    """
    ours = ours.copy()
    ref = ref.copy()
    ours.columns = ours.columns.str.strip()
    ref.columns = ref.columns.str.strip()
    merged = ref.merge(ours, on="frame", suffixes=("_ref", "_ours"))
    left = merged[[c for c in merged.columns if c.endswith("_ours")]].rename(
        columns=lambda c: c[: -len("_ours")]
    )
    right = merged[[c for c in merged.columns if c.endswith("_ref")]].rename(
        columns=lambda c: c[: -len("_ref")]
    )
    success_ref = right["success"].to_numpy() > 0.5
    success_ours = left["success"].to_numpy() > 0.5
    both = success_ref & success_ours
    report = ClipReport(
        clip=clip,
        frames_reference=len(ref),
        frames_ours=len(ours),
        success_agreement=float(np.mean(success_ref == success_ours)) if len(merged) else math.nan,
        landmark_error_px=None,
        confidence_within_0_02=None,
    )
    if "x_0" in left.columns and both.any():
        err = landmark_errors(left[both], right[both])
        report.landmark_error_px = {
            "median": float(np.median(err)),
            "p95": float(np.percentile(err, 95)),
            "max": float(err.max()),
        }
    if "confidence" in left.columns and len(merged):
        diff = np.abs(left["confidence"].to_numpy(float) - right["confidence"].to_numpy(float))
        report.confidence_within_0_02 = float(np.mean(diff <= 0.02))
    for name in [c for c in right.columns if c.startswith("AU") and c.endswith("_r")]:
        if name not in left.columns:
            continue
        a = left.loc[both, name].to_numpy(float)
        b = right.loc[both, name].to_numpy(float)
        if a.size == 0:
            continue
        err = np.abs(a - b)
        report.intensity.append(AUFigures(name, _pearson(a, b), float(err.mean()), float(err.max())))
    for name in [c for c in right.columns if c.startswith("AU") and c.endswith("_c")]:
        if name in left.columns and len(merged):
            agree = (left[name].to_numpy(float) > 0.5) == (right[name].to_numpy(float) > 0.5)
            report.presence_agreement[name] = float(agree.mean())
    return report


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def to_markdown(report: ClipReport) -> str:
    """A Markdown section for one clip."""
    lines = [f"### {report.clip}", ""]
    lines.append(
        f"frames: {report.frames_ours} (OpenFace {report.frames_reference}); "
        f"success agreement {_fmt(report.success_agreement * 100, 1)} %"
    )
    if report.landmark_error_px:
        e = report.landmark_error_px
        lines.append(
            f"landmark error (px, per-frame mean): median {_fmt(e['median'])}, "
            f"p95 {_fmt(e['p95'])}, max {_fmt(e['max'])}"
        )
    if report.confidence_within_0_02 is not None:
        lines.append(f"confidence within 0.02: {_fmt(report.confidence_within_0_02 * 100, 1)} %")
    if report.intensity:
        lines += ["", "| AU | r | MAE | max error | presence agreement |", "|---|---|---|---|---|"]
        for au in report.intensity:
            presence = report.presence_agreement.get(au.name[:-2] + "_c")
            lines.append(
                f"| {au.name[:-2]} | {_fmt(au.pearson_r, 4)} | {_fmt(au.mean_abs_error, 4)} "
                f"| {_fmt(au.max_abs_error, 3)} | {_fmt(None if presence is None else presence * 100, 1)} % |"
            )
        extra = sorted(set(report.presence_agreement) - {a.name[:-2] + "_c" for a in report.intensity})
        for name in extra:
            lines.append(
                f"| {name[:-2]} | - | - | - | {_fmt(report.presence_agreement[name] * 100, 1)} % |"
            )
    return "\n".join(lines) + "\n"
