"""The stacked linear predictor equals OpenFace's per-model formula."""

from __future__ import annotations

import numpy as np
import pytest

from openau.au import LinearAUPredictor
from openau.models import read_face_analyser


@pytest.fixture(scope="module")
def aus(models_dir):
    return read_face_analyser(models_dir).aus


def test_scores_equal_the_direct_formula(aus):
    predictor = LinearAUPredictor.from_models(aus)
    rng = np.random.default_rng(3)
    x = rng.random(aus.n_features) * 0.2
    median = rng.random(aus.n_features) * 0.1
    scores = predictor.scores(predictor.project(x), predictor.median_term(median))
    models = aus.intensity + aus.presence
    for score, model in zip(scores, models, strict=True):
        features = x - model.means - (median if model.dynamic else 0.0)
        assert score == pytest.approx(features @ model.weights + model.bias, abs=1e-9)
    intensity, presence = predictor.split(scores)
    assert intensity.shape == (17,) and presence.shape == (18,)
    assert set(np.unique(presence)) <= {0.0, 1.0}


def test_cutoffs_follow_the_models(aus):
    predictor = LinearAUPredictor.from_models(aus)
    for cutoff, model in zip(predictor.cutoffs, aus.intensity, strict=True):
        assert (np.isnan(cutoff) and model.cutoff is None) or cutoff == model.cutoff
