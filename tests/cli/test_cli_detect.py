"""``openau detect``: CSV output against OpenFace's mtcnn.csv, options and errors."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from openau.cli import main


def _rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_detect_writes_openface_mtcnn_csv(capsys, models_dir, media_dir, reference_dir, tmp_path):
    image = media_dir / "multi_face.jpg"
    out_file = tmp_path / "faces.csv"
    code = main(["detect", str(image), "--models", str(models_dir), "--device", "CPU", "-o", str(out_file)])
    out, err = capsys.readouterr()
    assert code == 0 and out == "" and err == ""
    text = out_file.read_text()
    reference = (reference_dir / "multi_face_jpg" / "mtcnn.csv").read_text()
    assert text.splitlines()[0] == reference.splitlines()[0]  # same columns
    got, expected = _rows(text), _rows(reference)
    assert len(got) == len(expected) == 5
    for g, e in zip(got, expected, strict=True):
        assert g["image"] == str(image) and g["face"] == e["face"] and g["video_pick"] == e["video_pick"]
        numbers = [k for k in e if k not in ("image", "face", "video_pick")]
        # Measured: equal to 3e-5 px (float32 rounding); see tests/detect/test_detect_reference.py.
        np.testing.assert_allclose([float(g[k]) for k in numbers], [float(e[k]) for k in numbers], atol=1e-2)


def test_detect_to_stdout_and_missing_accelerator(capsys, models_dir, reference_dir):
    frame = reference_dir / "no_face" / "frame0.png"
    from openau.detect import installed_devices

    # DirectML and CoreML never ship in the same onnxruntime build.
    missing = next(d for d in ("directml", "coreml", "openvino") if d not in installed_devices())
    code = main(["detect", str(frame), "--models", str(models_dir), "--device", missing, "--threads", "1"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out == "image,face,x,y,w,h,confidence,conv_x,conv_y,conv_w,conv_h,video_pick\n"
    assert err.startswith(f"openau: warning: device {missing!r} not used, running MTCNN on the CPU")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nothere.png"], "openau: error: nothere.png: no such image file\n"),
        (["{models}/model/tris_68.txt"], "OpenCV cannot read this image"),
    ],
)
def test_detect_errors(capsys, models_dir, argv, message):
    argv = [a.format(models=models_dir) for a in argv]
    code = main(["detect", *argv, "--models", str(models_dir), "--device", "cpu"])
    _, err = capsys.readouterr()
    assert code == 1 and message in err


def test_detect_rejects_unknown_device(capsys, models_dir):
    with pytest.raises(SystemExit) as exc:
        main(["detect", "x.png", "--device", "tpu"])
    assert exc.value.code == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
