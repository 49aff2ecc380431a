"""OpenFace's linear AU predictors, stacked into one matrix product.

Each model scores ``(x - means - median) @ w + b`` (the median only for dynamic
models; ``x`` is the 4702-value HOG + geometry descriptor). Written as
``x @ w + (b - means @ w) - median @ w``, all models share one product
``x @ W``, and the median term changes only when the median does.

OpenFace keeps one ``means`` vector per model group (static and dynamic
regressors, static and dynamic classifiers): the first file read of each group
sets it and later files' means are only compared with it
(``SVR_static_lin_regressors::Read`` and friends). This is reproduced, though
the means of OpenFace's own files agree within each group.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from openau.models.au import AUModelSet

__all__ = ["LinearAUPredictor"]


@dataclass(frozen=True, eq=False)
class LinearAUPredictor:
    """All AU models of a set as one linear map (immutable).

    Columns: the intensity models sorted by AU name, then the presence models
    sorted by AU name (OpenFace's CSV order).

    Attributes
    ----------
    intensity_names, presence_names : tuple of str
    weights : (d, k) float64 ndarray
    base : (k,) float64 ndarray
        ``bias - group_means @ w`` per model.
    dynamic : (k,) bool ndarray
    cutoffs : (k_intensity,) float64 ndarray
        Dynamic intensity models' cutoffs; NaN where there is none.
    positive, negative : (k_presence,) float64 ndarray
        Values reported for presence scores above 0 and at or below 0.
    """

    intensity_names: tuple[str, ...]
    presence_names: tuple[str, ...]
    weights: np.ndarray
    base: np.ndarray
    dynamic: np.ndarray
    cutoffs: np.ndarray
    positive: np.ndarray
    negative: np.ndarray

    @classmethod
    def from_models(cls, aus: AUModelSet) -> LinearAUPredictor:
        """Stack the models of an :class:`~openau.models.AUModelSet`."""
        group_means: dict[tuple[str, bool], np.ndarray] = {}
        for model in aus.models:  # file order decides each group's means
            group_means.setdefault((model.task, model.dynamic), model.means)
        ordered = aus.intensity + aus.presence
        weights = np.stack([m.weights for m in ordered], axis=1)
        base = np.array(
            [m.bias - group_means[(m.task, m.dynamic)] @ m.weights for m in ordered]
        )
        cutoffs = np.array([np.nan if m.cutoff is None else m.cutoff for m in aus.intensity])
        for arr in (weights, base, cutoffs):
            arr.setflags(write=False)
        return cls(
            intensity_names=aus.intensity_names,
            presence_names=aus.presence_names,
            weights=np.ascontiguousarray(weights),
            base=base,
            dynamic=np.array([m.dynamic for m in ordered]),
            cutoffs=cutoffs,
            positive=np.array([m.positive for m in aus.presence], dtype=np.float64),
            negative=np.array([m.negative for m in aus.presence], dtype=np.float64),
        )

    @property
    def n_intensity(self) -> int:
        return len(self.intensity_names)

    def project(self, descriptors: np.ndarray) -> np.ndarray:
        """``x @ W`` for one ``(d,)`` or many ``(n, d)`` descriptors."""
        return np.asarray(descriptors, dtype=np.float64) @ self.weights

    def median_term(self, median: np.ndarray | None) -> np.ndarray:
        """``median @ w`` for the dynamic models, 0 for the static ones.

        ``None`` (no running median, as for still images) gives zeros.
        """
        term = np.zeros(self.weights.shape[1])
        if median is not None and self.dynamic.any():
            term[self.dynamic] = np.asarray(median, dtype=np.float64) @ self._dynamic_weights
        return term

    @functools.cached_property
    def _dynamic_weights(self) -> np.ndarray:
        return np.ascontiguousarray(self.weights[:, self.dynamic])

    def scores(self, projection: np.ndarray, median_term: np.ndarray) -> np.ndarray:
        """Raw model outputs from :meth:`project` and :meth:`median_term`."""
        return projection + self.base - median_term

    def split(self, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw intensities and presence values (``positive`` if score > 0 else ``negative``)."""
        k = self.n_intensity
        presence = np.where(scores[..., k:] > 0, self.positive, self.negative)
        return scores[..., :k], presence
