"""The accuracy and speed reports run on one short clip, and their numbers are computed.

The accuracy report uses the landmarks path (OpenFace's own landmarks given):
it is fast and its answer is known -- the AU stage reproduces OpenFace's
values from OpenFace's landmarks (r = 1, error ~0) -- so a seeded 1-px
perturbation of the landmark table must show up as lower r and larger error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bench import _common, accuracy, readme, speed

CLIP = "single_face"  # 72 frames, a face in every frame


def _run_accuracy(args, out):
    assert accuracy.main([*args, "--out", str(out), "--quiet"]) == 0
    data = json.loads((out / "accuracy.json").read_text())
    assert (out / "accuracy.md").is_file()
    return data


@pytest.fixture(scope="module")
def accuracy_reports(tmp_path_factory, models_dir, media_dir, reference_dir):
    """accuracy.json with OpenFace's landmarks, and with those landmarks plus 1-px noise."""
    root = tmp_path_factory.mktemp("accuracy")
    common = ["--clips", CLIP, "--only", "landmarks", "--models", str(models_dir),
              "--reference", str(reference_dir), "--media", str(media_dir)]  # fmt: skip
    clean = _run_accuracy(common, root / "clean")
    table = pd.read_csv(reference_dir / CLIP / "openface_precise.csv")
    columns = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    rng = np.random.default_rng(2024)
    table[columns] += rng.normal(0.0, 1.0, (len(table), len(columns)))
    (root / "perturbed" / CLIP).mkdir(parents=True)
    table.to_csv(root / "perturbed" / CLIP / "openface_precise.csv", index=False)
    noisy = _run_accuracy([*common, "--landmarks", str(root / "perturbed")], root / "noisy")
    return root, clean, noisy


def test_openface_landmarks_reproduce_openface_aus(accuracy_reports):
    _, clean, _ = accuracy_reports
    [run] = clean["runs"]
    assert (run["clip"], run["mode"], run["kind"]) == (CLIP, "landmarks", "video")
    assert run["frames_ours"] == run["frames_reference"] == run["frames_common"] == 72
    assert run["success_agreement"] == 1.0
    assert run["landmark_error_px"]["max"] < 1e-3  # the given landmarks come back as written
    # Measured: every r is 1.0000 and the largest error ~1e-6 (float rounding);
    # the bounds leave room for BLAS differences between machines.
    assert len(run["intensity"]) == 17
    assert run["summary"]["min_r"] > 0.999
    assert run["summary"]["max_error"] < 0.01
    assert run["summary"]["min_presence_agreement"] == 1.0
    assert clean["machine"]["cpu"] and clean["machine"]["libraries"]["numpy"]


def test_perturbed_landmarks_lower_the_reported_agreement(accuracy_reports):
    _, clean, noisy = accuracy_reports
    before, after = clean["runs"][0], noisy["runs"][0]
    # Per-frame mean of 68 Rayleigh distances with sigma = 1 px: sqrt(pi / 2) = 1.25 px.
    assert after["landmark_error_px"]["median"] == pytest.approx(np.sqrt(np.pi / 2), abs=0.1)
    # Measured with 1-px noise: mean r 0.91, worst r 0.54, largest MAE 0.14.
    assert after["summary"]["mean_r"] < before["summary"]["mean_r"] - 0.02
    assert after["summary"]["min_r"] < before["summary"]["min_r"] - 0.1
    assert after["summary"]["max_mae"] > before["summary"]["max_mae"] + 0.02
    assert after["summary"]["min_presence_agreement"] < 1.0
    assert noisy["landmarks"].endswith("perturbed")


def test_accuracy_markdown_holds_the_json_figures(accuracy_reports):
    root, _, noisy = accuracy_reports
    text = (root / "noisy" / "accuracy.md").read_text()
    run = noisy["runs"][0]
    assert f"{run['summary']['min_r']:.4f}" in text
    assert f"{run['summary']['max_mae']:.4f}" in text
    assert "| AU45 |" in text


def test_readme_section_is_generated_from_the_reports(accuracy_reports, tmp_path, reference_dir):
    root, _, noisy = accuracy_reports
    results = tmp_path / "results"
    results.mkdir()
    (results / "accuracy.json").write_text((root / "noisy" / "accuracy.json").read_text())
    speed_data = {
        "machine": noisy["machine"],
        "openface": _common.openface_timings(reference_dir),
        "openface_images": _common.openface_image_timings(reference_dir),
        "openface_machine": _common.openface_machine(reference_dir),
        "whole_process": {"pinned_by": "taskset -c 0", "repeat": 1, "batch": None, "clips": [
            {"clip": CLIP, "frames": 72, "fps_one_core": 12.345, "fps_default": 23.456,
             "peak_rss_mib_one_core": 400.0, "peak_rss_mib_default": 410.0,
             "openface_here_fps_one_core": 6.5, "openface_here_peak_rss_mib": 290.0,
             "speedup_one_core": 1.9, "speedup_one_core_range": [1.8, 2.05]}],
            "images": [{"image": "multi_face_jpg", "faces": 5, "seconds_one_core": 1.234,
                        "peak_rss_mib_one_core": 300.0}]},
    }  # fmt: skip
    (results / "speed.json").write_text(json.dumps(speed_data))
    before = "# title\n\nfirst screen\n\n" + readme.BEGIN + "\nold\n" + readme.END + "\n\n## Licences\nkept\n"
    path = tmp_path / "README.md"
    path.write_text(before)
    assert readme.main(["--results", str(results), "--readme", str(path)]) == 0
    after = path.read_text()
    assert after.startswith("# title\n\nfirst screen\n\n" + readme.BEGIN + "\n## Accuracy and speed")
    assert after.endswith(readme.END + "\n\n## Licences\nkept\n")
    assert "old" not in after
    run = noisy["runs"][0]
    assert f"{run['summary']['min_r']:.3f} / {run['summary']['max_mae']:.3f}" in after
    assert "| single_face | 72 | 12.3 | 38.3 | 23.5 | 48.2 | 400 | 306 | n/a |" in after  # OpenFace's from its README
    assert "| single_face | 12.3 | 6.5 | 1.90x (1.80-2.05) | 400 | 290 |" in after  # OpenFace timed here
    assert "multi_face_jpg (5 faces) 1.23 s (OpenFace 0.65-0.66 s)" in " ".join(after.split())
    assert noisy["machine"]["date"] in " ".join(after.split())
    # Running it again changes nothing.
    assert readme.main(["--results", str(results), "--readme", str(path)]) == 0
    assert path.read_text() == after


def test_replace_section_needs_its_markers():
    with pytest.raises(ValueError, match="exactly one"):
        readme.replace_section("no markers", "x")
    with pytest.raises(ValueError, match="exactly one"):
        readme.replace_section(readme.END + readme.BEGIN, "x")


def test_the_readme_has_the_markers_after_its_first_screen():
    text = (_common.ROOT / "README.md").read_text()
    assert text.count(readme.BEGIN) == 1 and text.count(readme.END) == 1
    first_screen = "\n## ".join(text.split("\n## ", 2)[:2])
    assert readme.BEGIN not in first_screen


def test_reference_inputs_map_folders_to_media(reference_dir, media_dir):
    inputs = {i.name: i for i in _common.reference_inputs(reference_dir, media_dir)}
    assert inputs["single_face"].media.name == "single_face.mp4"
    assert inputs["single_face"].kind == "video"
    assert inputs["single_face"].table.name == "openface_precise.csv"
    assert inputs["single_face_jpg"].media.name == "single_face.jpg"
    assert inputs["single_face_jpg"].kind == "image"
    assert inputs["of_multi_face"].media.name == "of_multi_face.avi"
    with pytest.raises(SystemExit, match="no_such_clip"):
        _common.reference_inputs(reference_dir, media_dir, ["no_such_clip"])


def test_openface_timings_are_read_from_the_reference_readme(reference_dir):
    timings = _common.openface_timings(reference_dir)
    assert set(timings) == {"single_face", "video01", "face_noface", "no_face", "of_multi_face", "of_default"}
    assert timings["video01"]["frames"] == 300
    assert timings["video01"]["fps_one_core"] == 79.7
    assert timings["video01"]["fps_default_range"] == [99.3, 103.1]
    assert timings["no_face"]["peak_rss_mib"] == 302
    assert "Xeon" in _common.openface_machine(reference_dir)
    images = _common.openface_image_timings(reference_dir)
    assert images["multi_face_jpg"] == {"file": "multi_face.jpg", "faces": 5, "seconds_range": [0.65, 0.66],
                                        "peak_rss_mib": 172}  # fmt: skip


def test_bench_helpers_load_no_numpy_before_capping_threads():
    # cap_threads sets the thread variables that BLAS reads when numpy loads.
    code = "import sys, bench._common; assert 'numpy' not in sys.modules, 'numpy loaded'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=_common.ROOT)
    assert result.returncode == 0, result.stderr


def test_speed_stages_are_measured_and_the_engine_restored(models_dir, media_dir):
    import openau.features.frame as frame_module
    from openau.video import engine

    kernels = (frame_module.fit_to_landmarks, frame_module.align_face, frame_module.hog_descriptor)
    reader = engine.VideoReader
    # threads=None: this test process's thread caps are left alone.
    data = speed.measure_in_process([(CLIP, media_dir / "single_face.mp4")], models_dir, None, 1)
    [row] = data["clips"]
    assert row["frames"] == 72
    ms = row["cpu_ms_per_frame"]
    assert list(ms) == [*speed.STAGES, speed.OTHER]
    for stage in ("decode", "detect", "landmarks", "PDM fit", "align", "FHOG", "predict", "post-process", "write"):
        assert ms[stage] > 0, stage
    assert ms["landmarks"] > ms["detect"]  # the detector runs on frame 1 only
    assert row["cpu_ms_per_frame_total"] == pytest.approx(sum(ms.values()))
    assert row["engine_fps"] > 0 and data["model_load_s"] > 0
    assert (frame_module.fit_to_landmarks, frame_module.align_face, frame_module.hog_descriptor) == kernels
    assert engine.VideoReader is reader


def test_whole_process_run_counts_frames_and_memory(models_dir, media_dir, tmp_path):
    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    result = speed.run_cli([media_dir / "no_face.mp4"], models_dir, tmp_path / "out", dict(os.environ), pin=cpu)
    assert result["frames"] == 95
    assert result["seconds"] > 0
    assert result["pinned"] != "not pinned"
    if hasattr(os, "wait4"):
        assert result["peak_rss_mib"] > 50


@pytest.mark.skipif(os.name == "nt", reason="the stand-in executable is a POSIX script")
def test_openface_is_run_as_the_reference_readme_times_it(tmp_path, media_dir):
    # A stand-in for FeatureExtraction: checks the flags, writes a table of
    # three frames where OpenFace would, and needs model/ beside itself.
    install = tmp_path / "openface"
    (install / "model").mkdir(parents=True)
    executable = install / "FeatureExtraction"
    executable.write_text(
        f"#!{sys.executable}\n"
        "import os, sys\n"
        "args = sys.argv[1:]\n"
        "assert args[args.index('-mloc') + 1] == 'model/main_clnf_general.txt' and '-aus' in args\n"
        "assert os.path.isdir('model')\n"
        "stem = os.path.splitext(os.path.basename(args[args.index('-f') + 1]))[0]\n"
        "out = args[args.index('-out_dir') + 1]\n"
        "os.makedirs(out, exist_ok=True)\n"
        "open(os.path.join(out, stem + '.csv'), 'w').write('frame, success\\n1, 1\\n2, 1\\n3, 0\\n')\n"
    )
    executable.chmod(0o755)
    cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    result = speed.run_openface(executable, media_dir / "no_face.mp4", tmp_path / "out", cpu)
    assert result["frames"] == 3
    assert result["seconds"] > 0


def test_end_to_end_report_on_a_clip_without_faces_and_an_image(tmp_path, models_dir, media_dir, reference_dir):
    data = _run_accuracy(
        ["--clips", "no_face", "single_face_jpg", "--only", "end-to-end", "--models", str(models_dir),
         "--reference", str(reference_dir), "--media", str(media_dir)],
        tmp_path,
    )  # fmt: skip
    runs = {run["clip"]: run for run in data["runs"]}
    no_face, image = runs["no_face"], runs["single_face_jpg"]
    assert no_face["frames_ours"] == no_face["frames_reference"] == 95
    assert no_face["success_agreement"] == 1.0
    assert no_face["landmark_error_px"] is None and no_face["intensity"] == []
    assert any("no face" in w for w in no_face["warnings"])
    assert image["kind"] == "image" and image["key"] == "face"
    # Measured: 1e-4 px and AU errors up to 0.005 (AU07).
    assert image["landmark_error_px"]["max"] < 0.01
    assert image["summary"]["max_error"] < 0.05
    assert image["warnings"] == []
