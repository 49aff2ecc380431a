"""Decoding reproduces OpenFace's pixels and reports bad input clearly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from openau.errors import InputError, InputNotFoundError, OpenAUError
from openau.video import VideoReader, read_image

# clip -> (reference folder, frames OpenFace decoded, OpenCV's fps)
CLIPS = {
    "single_face.mp4": ("single_face", 72, 30.0),
    "video01.mp4": ("video01", 300, 30.0),
    "face_noface.mov": ("face_noface", 169, 26.3979),
    "no_face.mp4": ("no_face", 95, 23.6716),
    "of_multi_face.avi": ("of_multi_face", 702, 30.0),
    "of_default.wmv": ("of_default", 288, 15.0),
}


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_first_frame_is_bit_exact(clip, media_dir, reference_dir):
    folder, _, fps = CLIPS[clip]
    with VideoReader(media_dir / clip) as video:
        first = next(iter(video))
        assert video.info.fps == pytest.approx(fps, abs=1e-4)
    expected = cv2.imread(str(reference_dir / folder / "frame0.png"))
    assert first.index == 0
    assert first.image.dtype == np.uint8 and first.image.flags.c_contiguous
    np.testing.assert_array_equal(first.image, expected)


def test_bt709_clip_differs_when_declared_colour_is_honoured(media_dir, reference_dir):
    # face_noface.mov is tagged BT.709; OpenFace ignores the tag.
    expected = cv2.imread(str(reference_dir / "face_noface" / "frame0.png"))
    with VideoReader(media_dir / "face_noface.mov", colour="declared") as video:
        first = next(iter(video)).image
    assert np.abs(first.astype(int) - expected).max() > 0


def test_frame_counts_and_pts(media_dir):
    with VideoReader(media_dir / "no_face.mp4") as video:
        frames = [f.pts for f in video]
        assert not video.truncated
    assert len(frames) == CLIPS["no_face.mp4"][1]  # the container claims 98
    assert frames[0] == pytest.approx(0.0, abs=0.05)
    assert all(b > a for a, b in zip(frames, frames[1:]))


def test_truncated_clip_yields_decodable_frames(media_dir, tmp_path):
    # An AVI cut in half keeps its header (702 frames listed) but only half its data.
    data = (media_dir / "of_multi_face.avi").read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as video:
        count = sum(1 for _ in video)
        assert video.truncated
        assert f"decoded {count} of the 702 frames" in video.error
    assert 300 < count < 702


def test_cut_mp4_without_index_is_unreadable(media_dir, tmp_path):
    # MP4s that keep their index at the end cannot be opened once cut.
    data = (media_dir / "video01.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.mp4: not a readable video"):
        VideoReader(cut)


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 10)
    with pytest.raises(InputError, match=r"notes\.mp4: not a readable video"):
        VideoReader(fake)


def test_missing_file(tmp_path):
    with pytest.raises(InputNotFoundError, match=r"absent\.mp4: no such file") as info:
        VideoReader(tmp_path / "absent.mp4")
    assert isinstance(info.value, OpenAUError) and isinstance(info.value, FileNotFoundError)


def test_display_rotation_is_applied(tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "rotated.mp4"
    image = np.zeros((32, 64, 3), np.uint8)
    image[:, :16] = 255  # a white band on the left
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.set_display_rotation(90)
        for _ in range(3):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    with VideoReader(path) as video:
        assert (video.info.width, video.info.height, video.info.rotation) == (32, 64, 90)
        frame = next(iter(video)).image
    assert frame.shape == (64, 32, 3)
    # Turned a quarter counter-clockwise, the left band lies along the bottom.
    assert frame[-8:].mean() > 200 and frame[:40].mean() < 30
    with VideoReader(path, rotate=False) as video:
        assert next(iter(video)).image.shape == (32, 64, 3)


def test_read_image(media_dir, tmp_path):
    image = read_image(media_dir / "single_face.jpg")
    assert image.shape == (562, 572, 3) and image.dtype == np.uint8
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really")
    with pytest.raises(InputError, match=r"bad\.jpg: not a readable image"):
        read_image(bad)
    with pytest.raises(InputNotFoundError):
        read_image(tmp_path / "none.png")
