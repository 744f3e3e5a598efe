"""Fake plugins for core tests: no torch, no models; registered in fixtures, never installed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import Field

from prunebench import DatasetSource, ModelSource, Params, PreparedDataset, Strategy, hookimpl


class FakeStrategyParams(Params):
    power: int = Field(1, ge=1, description="A made-up knob.")


class FakeStrategy(Strategy):
    name = "fake-prune"
    description = "Pretends to prune."
    Params = FakeStrategyParams


class OtherStrategy(Strategy):
    name = "fake-other"
    description = "Another pretend strategy."


class FakeModelParams(Params):
    weights: str | None = Field(None, description="A file whose content is fingerprinted.")
    width: float = 1.0


class FakeModel(ModelSource):
    name = "fake-model"
    Params = FakeModelParams

    def fingerprint(self) -> dict[str, Any]:
        if self.params.weights is None:
            return {"width": self.params.width}
        return {"sha256": hashlib.sha256(Path(self.params.weights).read_bytes()).hexdigest()}


class FakeDataset(DatasetSource):
    name = "fake-data"
    synthetic = True

    def prepare(self, cache_dir: Path) -> PreparedDataset:
        return PreparedDataset(Path(cache_dir) / "data.yaml", {0: "bud"}, synthetic=True)


class FakePlugin:
    @hookimpl
    def register_strategies(self, register):
        register(FakeStrategy)
        register(OtherStrategy)

    @hookimpl
    def register_models(self, register):
        register(FakeModel)

    @hookimpl
    def register_datasets(self, register):
        register(FakeDataset)
