"""Expanding inputs (files, folders, globs) and naming their outputs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from openau.errors import InputError, InputNotFoundError
from openau.video.sources import ImageSequenceReader, Input, expand_inputs, output_stems


def _images(folder, names, size=(20, 30)):
    folder.mkdir(exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / name), np.full((*size, 3), 128, np.uint8))


def test_kinds_globs_and_missing_paths(tmp_path):
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "b.mp4").write_bytes(b"x")
    _images(tmp_path, ["c.jpg"])
    jobs = expand_inputs([tmp_path / "*.mp4", tmp_path / "c.jpg", tmp_path / "gone.avi", tmp_path / "a.mp4"])
    assert jobs == [
        Input(tmp_path / "a.mp4", "video"),
        Input(tmp_path / "b.mp4", "video"),
        Input(tmp_path / "c.jpg", "image"),
        Input(tmp_path / "gone.avi", "video"),  # reported when run, with the others
    ]
    with pytest.raises(InputNotFoundError, match=r"\*\.mov: no file matches"):
        expand_inputs([tmp_path / "*.mov"])


def test_folder_as_sequence_or_separate_images(tmp_path):
    frames = tmp_path / "frames"
    _images(frames, ["f2.png", "f1.png", "F3.PNG", "f0.bmp"])
    (frames / "f9.gif").write_bytes(b"GIF")
    assert expand_inputs([frames]) == [Input(frames, "sequence")]
    images = expand_inputs([frames], folders="images")
    # OpenFace keeps .jpg/.jpeg/.png/.bmp (case-sensitive) and sorts the paths.
    assert [job.path.name for job in images] == ["f0.bmp", "f1.png", "f2.png"]
    assert {job.kind for job in images} == {"image"}


def test_output_stems_are_unique():
    jobs = [
        Input(Path("x/clip.mp4"), "video"),
        Input(Path("x/clip.jpg"), "image"),
        Input(Path("y/other.mp4"), "video"),
        Input(Path("z/other.mp4"), "video"),
        Input(Path("x/frames"), "sequence"),
    ]
    assert output_stems(jobs) == ["clip_mp4", "clip_jpg", "other_mp4", "other_mp4_2", "frames"]


def test_image_sequence_reader(tmp_path):
    frames = tmp_path / "frames"
    _images(frames, ["a.png", "b.png"])
    _images(frames, ["c.png"], size=(10, 10))
    with ImageSequenceReader(frames) as reader:
        assert (reader.info.width, reader.info.height, reader.info.frame_count) == (30, 20, 3)
        indices = [frame.index for frame in reader]
        assert indices == [0, 1]
        assert reader.truncated and "c.png is 10x10" in reader.error
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no image"):
        ImageSequenceReader(empty)
    with pytest.raises(InputNotFoundError):
        ImageSequenceReader(tmp_path / "absent")



