"""Fixtures for engine tests: fake stages and small synthetic clips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openau.video.config import ExtractConfig

#: The fake stage factory, by file path so spawned workers can load it.
FAKES = f"{Path(__file__).resolve().parent / 'fakes.py'}:build"


@pytest.fixture
def fake_config() -> ExtractConfig:
    """A config running the fake stages, with a short stall timeout."""
    return ExtractConfig(stages=FAKES, stall_timeout=5.0)


@pytest.fixture
def make_clip(tmp_path):
    """Write a small H.264 clip: ``faces[i]`` says whether frame i shows a bright centre (a "face").

    None makes a white "poison" frame, on which the fake tracker ends its process.
    """
    import av

    def make(name: str, faces: list[bool | None], size: tuple[int, int] = (64, 48), fps: int = 10) -> Path:
        path = tmp_path / name
        width, height = size
        with av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=fps)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            for i, face in enumerate(faces):
                image = np.full((height, width, 3), 40 + i % 5, np.uint8)
                if face is None:
                    image[:] = 255
                elif face:
                    image[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 220
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return path

    return make
