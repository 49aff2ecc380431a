"""The Python interface: Extractor, extract_many, ExtractConfig (fake stages)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import openau
from openau.errors import InputError, OpenAUWarning
from openau.output.columns import video_columns

FAKES = f"{Path(__file__).resolve().parent / 'video' / 'fakes.py'}:build"


def _clip(path: Path, faces: list[bool]) -> Path:
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for face in faces:
            image = np.full((48, 64, 3), 40, np.uint8)
            if face:
                image[12:36, 16:48] = 220
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_import_stays_light():
    code = "import sys, openau; print(sorted(m for m in ('pandas', 'av', 'cv2', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_config_is_picklable_and_checked():
    config = openau.ExtractConfig(models="somewhere", jobs=2, output_format="parquet")
    assert config.models == Path("somewhere")
    assert pickle.loads(pickle.dumps(config)) == config
    with pytest.raises(ValueError, match="timestamps must be one of"):
        openau.ExtractConfig(timestamps="wallclock")


def test_extract_and_stream(tmp_path, media_dir):
    clip = _clip(tmp_path / "clip.mp4", [True, True, False, True])
    extractor = openau.Extractor(openau.ExtractConfig(stages=FAKES))
    table = extractor.extract(clip)
    assert list(table.columns) == video_columns() and table["success"].tolist() == [1, 1, 0, 1]
    results = list(extractor.stream(clip))
    assert [r.index for r in results] == [0, 1, 2, 3]
    assert [bool(r.landmarks.success) for r in results] == [True, True, False, True]
    assert results[0].landmarks.landmarks.shape == (68, 2)
    with pytest.raises(InputError, match="an image has no frames to stream; use Extractor.extract"):
        next(extractor.stream(media_dir / "single_face.jpg"))
    image = extractor.extract(media_dir / "single_face.jpg")
    assert image["face"].tolist() == [0, 1]  # the fake finds two faces

def test_no_face_is_a_warning(tmp_path):
    clip = _clip(tmp_path / "dark.mp4", [False] * 3)
    with pytest.warns(OpenAUWarning, match="no face found in any of the 3 frames"):
        table = openau.Extractor(openau.ExtractConfig(stages=FAKES)).extract(clip)
    assert len(table) == 3
    events = []
    openau.Extractor(openau.ExtractConfig(stages=FAKES), on_event=events.append).extract(clip)
    assert [type(e).__name__ for e in events] == ["InputWarning"]


def test_extract_many_with_spawned_workers(tmp_path):
    clips = [_clip(tmp_path / f"c{i}.mp4", [True] * (3 + i)) for i in range(3)]
    outcomes = openau.extract_many([*clips, tmp_path / "none.mp4"], jobs=2, config=openau.ExtractConfig(stages=FAKES))
    assert [o.ok for o in outcomes] == [True, True, True, False]
    assert [len(o.table) for o in outcomes[:3]] == [3, 4, 5]
    assert "none.mp4: no such file" in outcomes[3].error
