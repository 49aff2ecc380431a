"""Compare an openau output table with OpenFace's, column group by column group.

Both tables are pandas DataFrames with OpenFace's column names: one row per
frame keyed on ``frame`` (FeatureExtraction), or one row per face keyed on
``face`` (FaceLandmarkImg, which has no ``success`` column: a row is a face
found). Every figure here is computed from the two tables; nothing is
hard-coded, so a worse run always reports worse numbers.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

N_LANDMARKS = 68
#: Confidence differences up to this count as agreeing (the validator's
#: output is written with 2 decimals in OpenFace's stock CSV).
CONFIDENCE_TOLERANCE = 0.02


@dataclass
class AUFigures:
    """Agreement of one AU intensity column between openau and OpenFace.

    ``pearson_r`` is None when either column is constant on the compared
    frames (r is undefined there; the errors still say how far apart they are).
    """

    name: str
    pearson_r: float | None
    mean_abs_error: float
    max_abs_error: float


@dataclass
class ClipReport:
    """Everything measured for one clip (or image).

    Attributes
    ----------
    clip : str
    key : {"frame", "face"}
        What a row is.
    frames_reference, frames_ours, frames_common : int
        Rows in OpenFace's table, in ours, and in both (matched on ``key``).
    success_agreement : float
        Share of the rows of either table whose success flags agree (a row
        missing from one table counts as failed there).
    landmark_error_px : dict or None
        Per-row mean Euclidean distance over the 68 landmarks, pixels, on the
        rows both call successful: ``median``, ``p95``, ``max``.
    confidence_within : float or None
        Share of common rows whose confidence differs by at most
        :data:`CONFIDENCE_TOLERANCE`.
    intensity : list of AUFigures
        On the rows both call successful.
    presence_agreement : dict
        ``AUxx_c`` -> share of common rows with the same 0/1 value (OpenFace's
        post-processed presence is defined on failed frames too).
    """

    clip: str
    key: str
    frames_reference: int
    frames_ours: int
    frames_common: int
    success_agreement: float
    landmark_error_px: dict[str, float] | None
    confidence_within: float | None
    intensity: list[AUFigures] = field(default_factory=list)
    presence_agreement: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, float | None]:
        """The worst AU figures: lowest r, highest mean and largest error, lowest presence agreement."""
        rs = [a.pearson_r for a in self.intensity if a.pearson_r is not None]
        return {
            "min_r": min(rs) if rs else None,
            "mean_r": float(np.mean(rs)) if rs else None,
            "max_mae": max((a.mean_abs_error for a in self.intensity), default=None),
            "max_error": max((a.max_abs_error for a in self.intensity), default=None),
            "min_presence_agreement": min(self.presence_agreement.values(), default=None),
        }

    def to_json(self) -> dict:
        data = asdict(self)
        data["summary"] = self.summary()
        return _json_safe(data)


def _json_safe(value):
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def pearson(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson's r of two 1-D arrays; None when fewer than 2 values or either is constant."""
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def landmark_errors(ours: pd.DataFrame, ref: pd.DataFrame) -> np.ndarray:
    """Per-row mean Euclidean distance over the 68 landmarks, pixels, (n,) float64."""
    xs = [f"x_{i}" for i in range(N_LANDMARKS)]
    ys = [f"y_{i}" for i in range(N_LANDMARKS)]
    dx = ours[xs].to_numpy(float) - ref[xs].to_numpy(float)
    dy = ours[ys].to_numpy(float) - ref[ys].to_numpy(float)
    return np.sqrt(dx**2 + dy**2).mean(axis=1)


def _sides(ours: pd.DataFrame, ref: pd.DataFrame, key: str):
    """Both tables on the union of their keys, in key order: (ours, ref, in_ours, in_ref).

    A row missing from one side is all NaN there; ``in_ours`` / ``in_ref``
    say which rows each table has. Only the columns both tables have are kept.
    """
    for side, name in ((ours, "ours"), (ref, "OpenFace's")):
        if side[key].duplicated().any():
            raise ValueError(f"{name} table repeats values of '{key}'")
    keys = np.union1d(ref[key].to_numpy(), ours[key].to_numpy())
    shared = [c for c in ref.columns if c != key and c in ours.columns]
    left = ours.set_index(key)[shared].reindex(keys)
    right = ref.set_index(key)[shared].reindex(keys)
    return left, right, np.isin(keys, ours[key].to_numpy()), np.isin(keys, ref[key].to_numpy())


def _success(side: pd.DataFrame, present: np.ndarray) -> np.ndarray:
    if "success" not in side.columns:  # images: a row is a face found
        return present.copy()
    return present & (side["success"].fillna(0).to_numpy(float) > 0.5)


def compare(clip: str, ours: pd.DataFrame, ref: pd.DataFrame) -> ClipReport:
    """Compare two tables with OpenFace's column names, row by row.

    Rows are matched on ``frame`` (videos) or ``face`` (images). Landmark and
    AU-intensity figures use the rows both runs call successful; presence
    and confidence use every common row.

    Raises
    ------
    ValueError
        The tables lack the key column.
    """
    ours = ours.rename(columns=str.strip)
    ref = ref.rename(columns=str.strip)
    key = "frame" if "frame" in ref.columns else "face"
    if key not in ref.columns or key not in ours.columns:
        raise ValueError(f"{clip}: both tables need a 'frame' or 'face' column")
    left, right, in_ours, in_ref = _sides(ours, ref, key)
    success_ours = _success(left, in_ours)
    success_ref = _success(right, in_ref)
    common = in_ours & in_ref
    both = success_ref & success_ours
    report = ClipReport(
        clip=clip,
        key=key,
        frames_reference=len(ref),
        frames_ours=len(ours),
        frames_common=int(common.sum()),
        success_agreement=float(np.mean(success_ref == success_ours)) if len(left) else math.nan,
        landmark_error_px=None,
        confidence_within=None,
    )
    if "x_0" in left.columns and both.any():
        err = landmark_errors(left[both], right[both])
        report.landmark_error_px = {
            "median": float(np.median(err)),
            "p95": float(np.percentile(err, 95)),
            "max": float(err.max()),
        }
    if "confidence" in left.columns and common.any():
        diff = np.abs(left.loc[common, "confidence"].to_numpy(float) - right.loc[common, "confidence"].to_numpy(float))
        report.confidence_within = float(np.mean(diff <= CONFIDENCE_TOLERANCE + 1e-9))
    for name in [c for c in right.columns if c.startswith("AU") and c.endswith("_r")]:
        a = left.loc[both, name].to_numpy(float)
        b = right.loc[both, name].to_numpy(float)
        if a.size == 0:
            continue
        err = np.abs(a - b)
        report.intensity.append(AUFigures(name, pearson(a, b), float(err.mean()), float(err.max())))
    for name in [c for c in right.columns if c.startswith("AU") and c.endswith("_c")]:
        if common.any():
            a = left.loc[common, name].to_numpy(float) > 0.5
            b = right.loc[common, name].to_numpy(float) > 0.5
            report.presence_agreement[name] = float(np.mean(a == b))
    return report


def fmt(value: float | None, digits: int = 3, scale: float = 1.0) -> str:
    """A number for a Markdown table: ``digits`` decimals, exponent form when that would show 0; ``n/a`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    value *= scale
    if value != 0 and abs(value) < 0.5 * 10**-digits:
        return f"{value:.1e}"
    return f"{value:.{digits}f}"


def to_markdown(report: ClipReport, title: str | None = None) -> str:
    """A Markdown section for one clip: its counts, landmark figures and a row per AU."""
    rows = "faces" if report.key == "face" else "frames"
    lines = [f"### {title or report.clip}", ""]
    lines.append(
        f"{rows}: {report.frames_ours} (OpenFace {report.frames_reference}, {report.frames_common} in both); "
        f"success agreement {fmt(report.success_agreement, 1, 100)} %"
    )
    if report.landmark_error_px:
        e = report.landmark_error_px
        lines.append(
            f"landmark error (px, per-{rows[:-1]} mean over 68 points): median {fmt(e['median'])}, "
            f"p95 {fmt(e['p95'])}, max {fmt(e['max'])}"
        )
    if report.confidence_within is not None:
        lines.append(f"confidence within {CONFIDENCE_TOLERANCE}: {fmt(report.confidence_within, 1, 100)} %")
    if report.intensity or report.presence_agreement:
        lines += ["", "| AU | r | MAE | max error | presence agreement |", "|---|---|---|---|---|"]
        seen = set()
        for au in report.intensity:
            presence_name = au.name[:-2] + "_c"
            seen.add(presence_name)
            presence = report.presence_agreement.get(presence_name)
            lines.append(
                f"| {au.name[:-2]} | {fmt(au.pearson_r, 4)} | {fmt(au.mean_abs_error, 4)} "
                f"| {fmt(au.max_abs_error, 3)} | {fmt(presence, 1, 100)} % |"
            )
        for name in sorted(set(report.presence_agreement) - seen):
            lines.append(f"| {name[:-2]} | - | - | - | {fmt(report.presence_agreement[name], 1, 100)} % |")
    return "\n".join(lines) + "\n"


SUMMARY_HEADER = (
    "| clip | landmarks | rows | success agreement | landmark px median / p95 / max "
    "| min r | mean r | max MAE | max error | min presence agreement |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def summary_row(report: ClipReport, mode: str) -> str:
    """One line of :data:`SUMMARY_HEADER`'s table."""
    s = report.summary()
    e = report.landmark_error_px
    landmarks = f"{fmt(e['median'])} / {fmt(e['p95'])} / {fmt(e['max'])}" if e else "n/a"
    return (
        f"| {report.clip} | {mode} | {report.frames_ours} / {report.frames_reference} "
        f"| {fmt(report.success_agreement, 1, 100)} % | {landmarks} | {fmt(s['min_r'], 4)} "
        f"| {fmt(s['mean_r'], 4)} | {fmt(s['max_mae'], 4)} | {fmt(s['max_error'], 3)} "
        f"| {fmt(s['min_presence_agreement'], 1, 100)} % |"
    )
