"""AU prediction: running medians, OpenFace's linear SVR/SVM models, offline post-processing."""

from __future__ import annotations

from openau.au.analyser import (
    MAX_INIT_FRAMES,
    AUAnalyser,
    AUTable,
    ImageAUs,
    predict_image_aus,
)
from openau.au.postprocess import postprocess_intensity, postprocess_presence
from openau.au.predict import LinearAUPredictor
from openau.au.running_median import GEOMETRY_BINS, HOG_BINS, HistogramBins, RunningMedian
from openau.features.frame import FrameFeatures

__all__ = [
    "AUAnalyser",
    "AUTable",
    "FrameFeatures",
    "GEOMETRY_BINS",
    "HOG_BINS",
    "HistogramBins",
    "ImageAUs",
    "LinearAUPredictor",
    "MAX_INIT_FRAMES",
    "RunningMedian",
    "predict_image_aus",
    "postprocess_intensity",
    "postprocess_presence",
]
