"""The Python interface: :class:`Extractor` for one input at a time, :func:`extract_many` for batches.

>>> import openau                                           # doctest: +SKIP
>>> extractor = openau.Extractor(openau.ExtractConfig(models="openface-models"))
>>> table = extractor.extract("clip.mp4")                  # OpenFace's columns
>>> outcomes = openau.extract_many(["a.mp4", "b.mp4"], jobs=2)
>>> tables = {o.input: o.table for o in outcomes if o.ok}

The library never prints. Warnings (no face found, a truncated file) are
issued as :class:`~openau.errors.OpenAUWarning` through :mod:`warnings`,
unless an ``on_event`` callback receives them as events instead.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Iterator
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from openau.errors import InputError, OpenAUWarning
from openau.output.writers import output_path
from openau.video.batch import Outcome, run_batch
from openau.video.config import ExtractConfig
from openau.video.engine import FrameResult, VideoOutput, VideoRun
from openau.video.images import analyse_image_file
from openau.video.pool import numeric_threads, worker_threads
from openau.video.events import EventCallback, InputWarning
from openau.video.sources import Input, expand_inputs, output_stems
from openau.video.stages import Stages, build_stages

if TYPE_CHECKING:  # pandas loads when a table is first returned (~0.5 s), not with openau
    import pandas as pd

__all__ = ["ExtractConfig", "Extractor", "extract_many", "Outcome", "FrameResult"]


class Extractor:
    """Extracts OpenFace's table from one video, image sequence or image at a time.

    The stages (models, accelerator sessions) load on first use and are reused
    for every later input, so keep one Extractor for many calls.

    Parameters
    ----------
    config : ExtractConfig, optional
        Defaults to ``ExtractConfig()`` (models found as ``openau models`` describes).
    on_event : callable(Event), optional
        Receives :class:`~openau.video.events.InputWarning` events instead of
        :mod:`warnings`.
    """

    def __init__(self, config: ExtractConfig | None = None, *, on_event: EventCallback | None = None) -> None:
        self.config = config if config is not None else ExtractConfig()
        self._on_event = on_event
        self._stages: Stages | None = None

    @property
    def stages(self) -> Stages:
        """The loaded stages (loading them on first access)."""
        if self._stages is None:
            self._stages = build_stages(self.config)
        return self._stages

    def _source(self, path: str | PathLike[str]) -> Input:
        jobs = expand_inputs([path], self.config.folders)
        if len(jobs) != 1:
            raise InputError(
                f"{path}: gives {len(jobs)} inputs; Extractor takes one at a time (use openau.extract_many)"
            )
        return jobs[0]

    def _warn(self, source: Input, output: VideoOutput) -> None:
        for message in output.warnings:
            if self._on_event is not None:
                self._on_event(InputWarning(0, source.path, message))
            else:
                warnings.warn(message, OpenAUWarning, stacklevel=3)

    def extract(self, path: str | PathLike[str]) -> pd.DataFrame:
        """The complete table of one input.

        Parameters
        ----------
        path : path-like
            A video file, a folder of images (an image sequence with the
            default ``folders="sequence"``) or an image.

        Returns
        -------
        pandas.DataFrame
            FeatureExtraction's columns (one row per frame) for a video or
            sequence, FaceLandmarkImg's (one row per face) for an image.

        Raises
        ------
        InputNotFoundError, InputError
            The input is missing or unreadable.
        ExtractionError, StageTimeoutError
            A stage failed or stalled.
        """
        source = self._source(path)
        with numeric_threads(worker_threads(self.config, 1)):
            if source.kind == "image":
                output = analyse_image_file(source.path, self.stages)
            else:
                with VideoRun(source, self.stages, self.config) as run:
                    output = run.finish()
        self._warn(source, output)
        return output.table

    def stream(self, path: str | PathLike[str]) -> Iterator[FrameResult]:
        """Yield each frame's result as soon as the per-frame stages are done with it.

        Landmarks, PDM parameters, confidence and success are final; AU values
        need the whole video (OpenFace's offline post-processing), so use
        :meth:`extract` for the final AU columns. Breaking out of the loop
        stops the stages.

        Raises
        ------
        InputError
            ``path`` is a still image (use :meth:`extract`).
        """
        source = self._source(path)
        if source.kind == "image":
            raise InputError(f"{source.path}: an image has no frames to stream; use Extractor.extract")
        with numeric_threads(worker_threads(self.config, 1)), VideoRun(source, self.stages, self.config) as run:
            yield from run


def extract_many(
    paths: Iterable[str | PathLike[str]],
    jobs: int | None = None,
    config: ExtractConfig | None = None,
    *,
    output_dir: str | PathLike[str] | None = None,
    resume: bool = False,
    on_event: EventCallback | None = None,
) -> list[Outcome]:
    """Extract many inputs, spread over ``jobs`` worker processes.

    A bad input does not stop the others: its :class:`Outcome` carries the
    error. Nothing is raised for it. Workers start with ``spawn``, which
    re-imports the calling script: a script calls this under
    ``if __name__ == "__main__":`` (``jobs=1`` runs in the calling process).

    Parameters
    ----------
    paths : iterable of path-like
        Videos, images, folders and glob patterns (see
        :func:`~openau.video.sources.expand_inputs`).
    jobs : int, optional
        CPU cores, one worker process each (default ``config.jobs``: every
        available core).
    config : ExtractConfig, optional
    output_dir : path-like, optional
        Write ``<stem>.csv`` (or ``.parquet``) per input there; otherwise each
        outcome's ``table`` holds the DataFrame.
    resume : bool
        With ``output_dir``: skip inputs whose output file exists.
    on_event : callable(Event), optional
        Progress events.

    Returns
    -------
    list of Outcome
        One per input, in input order.
    """
    config = config if config is not None else ExtractConfig()
    if jobs is not None and jobs != config.jobs:
        config = dataclasses.replace(config, jobs=jobs)
    inputs = expand_inputs(list(paths), config.folders)
    if output_dir is None:
        outputs: list[Path | None] = [None] * len(inputs)
    else:
        outputs = [output_path(Path(output_dir), stem, config.output_format) for stem in output_stems(inputs)]
    return run_batch(inputs, outputs, config, resume=resume and output_dir is not None, on_event=on_event)
