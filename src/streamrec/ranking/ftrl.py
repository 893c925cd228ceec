"""Logistic regression trained online with FTRL-Proximal.

McMahan et al., "Ad Click Prediction: a View from the Trenches" (KDD 2013), Algorithm 1:
per-coordinate learning rates and L1/L2 regularisation, one pass over examples as they come.

>>> ranker = FTRLRanker(FTRLConfig(alpha=0.1), n_features=2)
>>> for _ in range(500):
...     ranker.learn(np.array([[1.0, 1.0], [1.0, 0.0]]), np.array([1.0, 0.0]))
>>> p = ranker.predict(np.array([[1.0, 1.0], [1.0, 0.0]]))
>>> bool(p[0] > 0.75 and p[1] < 0.35)
True
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, Field

from streamrec.types import FloatArray


class FTRLConfig(BaseModel):
    alpha: float = Field(default=0.02, gt=0, description="Learning-rate scale.")
    beta: float = Field(default=1.0, ge=0)
    l1: float = Field(default=0.0, ge=0)
    l2: float = Field(default=0.1, ge=0)


class FTRLRanker:
    def __init__(self, config: FTRLConfig, n_features: int,
                 prior: FloatArray | None = None) -> None:
        """``prior``: weights known beforehand (e.g. learned offline on a validation replay).
        FTRL learns a correction to them, its regularisation pulling towards the prior rather
        than towards zero, so a good start is not forgotten while data is scarce."""
        self.config = config
        self._z = np.zeros(n_features, dtype=np.float64)
        self._n = np.zeros(n_features, dtype=np.float64)
        self.prior = np.zeros(n_features) if prior is None else np.asarray(prior, np.float64)
        self.examples = 0

    def weights(self) -> FloatArray:
        c = self.config
        w = -(self._z - np.sign(self._z) * c.l1) / ((c.beta + np.sqrt(self._n)) / c.alpha + c.l2)
        w[np.abs(self._z) <= c.l1] = 0.0
        return self.prior + w

    def predict(self, features: FloatArray) -> FloatArray:
        """Probability of engagement for each row."""
        margin = np.clip(features @ self.weights(), -35.0, 35.0)
        return 1.0 / (1.0 + np.exp(-margin))

    def learn(self, features: FloatArray, labels: FloatArray) -> None:
        """One FTRL step per row, in order (rows: examples, labels 0 or 1)."""
        for x, y in zip(features, labels, strict=True):
            w = self.weights()
            p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -35.0, 35.0)))
            self._step((p - y) * x, w)

    def learn_choice(self, features: FloatArray, chosen: int) -> None:
        """One step on a list from which row ``chosen`` was taken: the softmax (listwise,
        "top-one") loss, whose gradient is the expected features minus the chosen ones. It
        teaches the order of the whole list with no negative sampling."""
        w = self.weights()
        margins = features @ w
        p = np.exp(margins - margins.max())
        p /= p.sum()
        self._step(features.T @ p - features[chosen], w)

    def _step(self, g: FloatArray, w: FloatArray) -> None:
        sigma = (np.sqrt(self._n + g * g) - np.sqrt(self._n)) / self.config.alpha
        self._z += g - sigma * (w - self.prior)
        self._n += g * g
        self.examples += 1

    def state(self) -> dict[str, np.ndarray]:
        return {"z": self._z.copy(), "n": self._n.copy(), "examples": np.array([self.examples])}

    def restore(self, state: Mapping[str, np.ndarray]) -> None:
        self._z = np.array(state["z"], dtype=np.float64)
        self._n = np.array(state["n"], dtype=np.float64)
        self.examples = int(state["examples"][0])
