"""Agreement with OpenFace 2.2's output, clip by clip: ``python -m bench accuracy [OPTIONS]``.

Runs openau on every input of a folder laid out like ``../shared/reference``
(one sub-folder per input holding OpenFace's ``openface_precise.csv`` or
``openface.csv``; inputs in ``<reference>/../media``) and compares its table
with OpenFace's (:mod:`bench._compare`), in two ways:

- ``end-to-end``: the whole pipeline (:class:`openau.Extractor`), so the
  figures add up every stage's differences;
- ``landmarks``: OpenFace's own landmarks given (videos through
  :func:`openau.byo.extract_with_landmarks`, images through
  :func:`openau.au.predict_image_aus`), so the AU figures show the AU stage's
  differences alone. ``--landmarks DIR`` takes the landmark tables from
  another folder of the same layout (e.g. a perturbed copy).

Per input it reports rows, success agreement, landmark error (per-frame mean
over the 68 points: median, p95, max), confidence agreement, per AU Pearson's
r, mean and largest absolute error of the intensities (on frames both call
successful), and presence agreement. It prints Markdown and writes
``accuracy.md`` and ``accuracy.json`` to ``--out`` (default ``bench/results``).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench._common import (
    RESULTS_DIR,
    ReferenceInput,
    default_models,
    default_reference,
    machine_info,
    machine_markdown,
    reference_inputs,
    table_in,
    write_report,
)

MODES = ("end-to-end", "landmarks")


@dataclass
class Run:
    """One input through one mode, and how it compares."""

    mode: str
    source: ReferenceInput
    seconds: float
    report: object  # bench._compare.ClipReport
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "mode": self.mode,
            "kind": self.source.kind,
            "input": self.source.media.name,
            "seconds": round(self.seconds, 3),
            "warnings": self.warnings,
            **self.report.to_json(),
        }


def landmark_table(source: ReferenceInput, folder: Path) -> Path:
    """The landmark table for ``source`` in ``folder``: ``<name>/openface_precise.csv``, ``openface.csv`` or ``<name>.csv``."""
    table = table_in(folder / source.name)
    if table is None and (folder / f"{source.name}.csv").is_file():
        table = folder / f"{source.name}.csv"
    if table is None:
        raise SystemExit(f"{folder}: no landmark table for {source.name} ({source.name}/openface_precise.csv)")
    return table


class _Runner:
    """openau's stages, loaded once for every input of the report."""

    def __init__(self, models: Path, device: str, threads: int | None) -> None:
        self.models = models
        self.device = device
        self.threads = threads
        self._extractor = None
        self._static = None
        self._warnings: list[str] = []  # where the current input's warnings go

    def end_to_end(self, source: ReferenceInput, warnings: list[str]):
        import openau

        if self._extractor is None:
            config = openau.ExtractConfig(models=self.models, device=self.device, threads=self.threads)
            self._extractor = openau.Extractor(config, on_event=lambda event: self._warnings.append(event.message))
        self._warnings = warnings
        return self._extractor.extract(source.media)

    def with_landmarks(self, source: ReferenceInput, table: Path):
        if source.kind == "video":
            from openau.byo import extract_with_landmarks

            return extract_with_landmarks(source.media, table, self.models)
        return self._image_with_landmarks(source, table)

    def _image_with_landmarks(self, source: ReferenceInput, table_path: Path):
        """FaceLandmarkImg's AU columns for the given faces' landmarks (static models, no smoothing)."""
        import numpy as np
        import pandas as pd

        from openau.au import LinearAUPredictor, predict_image_aus
        from openau.models.au import read_face_analyser
        from openau.video.decode import read_image

        if self._static is None:
            models = read_face_analyser(self.models, dynamic=False)
            self._static = (models, LinearAUPredictor.from_models(models.aus))
        models, predictor = self._static
        table = pd.read_csv(table_path, skipinitialspace=True)
        image = read_image(source.media)
        xs = [f"x_{i}" for i in range(68)]
        ys = [f"y_{i}" for i in range(68)]
        rows = []
        for _, face in table.iterrows():
            points = np.stack([face[xs].to_numpy(float), face[ys].to_numpy(float)], axis=1).astype(np.float32)
            aus = predict_image_aus(image, points, models, predictor)
            row = {"face": int(face["face"])}
            if "confidence" in table.columns:
                row["confidence"] = float(face["confidence"])
            row.update(zip(xs, points[:, 0].astype(float)))
            row.update(zip(ys, points[:, 1].astype(float)))
            row.update({f"{n}_r": float(v) for n, v in zip(aus.intensity_names, aus.intensity)})
            row.update({f"{n}_c": float(v) for n, v in zip(aus.presence_names, aus.presence)})
            rows.append(row)
        return pd.DataFrame(rows)


def run_report(
    sources: list[ReferenceInput],
    models: Path,
    modes: tuple[str, ...] = MODES,
    landmarks: Path | None = None,
    device: str = "cpu",
    threads: int | None = None,
    log=None,
) -> list[Run]:
    """Run openau on each input in each mode and compare with OpenFace's table.

    Parameters
    ----------
    sources : list of ReferenceInput
    models : Path
        OpenFace's model folder.
    modes : tuple of {"end-to-end", "landmarks"}
    landmarks : Path, optional
        Folder of landmark tables for the ``landmarks`` mode (default: each
        input's own reference folder, i.e. OpenFace's landmarks).
    device, threads
        As :class:`openau.ExtractConfig`.
    log : callable(str), optional
        Progress lines.
    """
    import pandas as pd

    from bench._compare import compare

    runner = _Runner(models, device, threads)
    runs = []
    for mode in modes:
        for source in sources:
            reference = pd.read_csv(source.table)
            warnings: list[str] = []
            started = time.perf_counter()
            if mode == "end-to-end":
                ours = runner.end_to_end(source, warnings)
            else:
                table = landmark_table(source, landmarks) if landmarks else source.table
                ours = runner.with_landmarks(source, table)
            seconds = time.perf_counter() - started
            runs.append(Run(mode, source, seconds, compare(source.name, ours, reference), warnings))
            if log:
                log(f"{mode:>10} {source.name}: {len(ours)} rows in {seconds:.1f} s")
    return runs


def to_markdown(runs: list[Run], info: dict, reference: Path, landmarks: Path | None) -> str:
    from bench._compare import SUMMARY_HEADER, summary_row
    from bench._compare import to_markdown as clip_markdown

    given = "OpenFace's own (its `openface_precise.csv`)" if landmarks is None else f"the tables in `{landmarks}`"
    lines = [
        "# openau against OpenFace 2.2: accuracy",
        "",
        machine_markdown(info),
        "",
        f"Reference: `{reference}`. Modes: **end-to-end** runs openau's whole pipeline; "
        f"**landmarks** gives openau {given} landmarks, so its AU figures are the AU stage's alone.",
        "Landmark and intensity figures use the frames both call successful; r is Pearson's "
        "(n/a where a column is constant); errors are in AU intensity units (0-5); presence "
        "agreement is over every frame in both tables.",
        "",
        "## Summary",
        "",
        SUMMARY_HEADER,
    ]
    by_input = sorted(runs, key=lambda run: (run.source.name, MODES.index(run.mode)))
    lines += [summary_row(run.report, run.mode) for run in by_input]
    lines += ["", "## Per input", ""]
    for run in by_input:
        title = f"{run.source.name} ({run.mode}, {run.seconds:.1f} s)"
        lines.append(clip_markdown(run.report, title))
        lines += [f"warning: {w}" for w in run.warnings] + ([""] if run.warnings else [])
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench accuracy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", nargs="+", metavar="NAME", help="reference sub-folders (default: all)")
    parser.add_argument("--models", type=Path, default=default_models(), metavar="DIR")
    parser.add_argument("--reference", type=Path, default=default_reference(), metavar="DIR")
    parser.add_argument("--media", type=Path, metavar="DIR", help="the inputs (default <reference>/../media)")
    parser.add_argument("--landmarks", type=Path, metavar="DIR",
                        help="landmark tables for the landmarks mode (default: OpenFace's, from --reference)")  # fmt: skip
    parser.add_argument("--only", choices=MODES, help="run one mode (default: both)")
    parser.add_argument("--device", default="cpu", help="face detector device (default cpu)")
    parser.add_argument("--threads", type=int, help="threads per numeric library (default: the library's)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, metavar="DIR", help="default bench/results")
    parser.add_argument("--quiet", action="store_true", help="write the files, print nothing")
    args = parser.parse_args(argv)

    sources = reference_inputs(args.reference.resolve(), args.media, args.clips)
    modes = (args.only,) if args.only else MODES
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    info = machine_info()
    started = time.perf_counter()
    runs = run_report(sources, args.models, modes, args.landmarks, args.device, args.threads, log)
    data = {
        "machine": info,
        "reference": str(args.reference),
        "landmarks": str(args.landmarks) if args.landmarks else None,
        "seconds": round(time.perf_counter() - started, 1),
        "runs": [run.to_json() for run in runs],
    }
    markdown = to_markdown(runs, info, args.reference, args.landmarks)
    md, js = write_report(args.out, "accuracy", markdown, data)
    if not args.quiet:
        print(markdown)
        print(f"wrote {md} and {js}", file=sys.stderr)
    return 0
