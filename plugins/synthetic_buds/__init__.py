"""The `synthetic-buds` dataset source: a generated, deterministic stand-in for a tea-bud detection set.

No numpy, OpenCV or torch here: generation (prunebench_builtins.synthetic_buds.writer) is imported when a
dataset is prepared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from prunebench import DatasetSource, Params, PreparedDataset, hookimpl
from prunebench_builtins.synthetic_buds.version import GENERATOR_VERSION



class SyntheticBudsParams(Params):
    train: int = Field(256, ge=1, le=100_000, description="Number of training images.")
    val: int = Field(64, ge=1, le=100_000, description="Number of validation images.")
    imgsz: int = Field(320, ge=32, le=4096, description="Side of the square images, in pixels.")
    seed: int = Field(0, ge=0, description="Generator seed: the same params always give the same bytes.")
    buds_per_image: tuple[int, int] = Field((1, 6), description=(
        "Least and most buds in an image, both included (e.g. [1, 6]; fewer when they do not fit); 0 allows "
        "images without buds."))
    difficulty: float = Field(0.3, ge=0.0, le=1.0, description=(
        "0 = easy, 1 = hard: scales the clutter, the bud-coloured distractor leaves, how small buds get, "
        "occlusion, uneven light, blur and noise together."))

    @field_validator("buds_per_image")
    @classmethod
    def _ordered_range(cls, value: tuple[int, int]) -> tuple[int, int]:
        low, high = value
        if not 0 <= low <= high <= 50:
            raise ValueError(f"buds_per_image must be [least, most] with 0 <= least <= most <= 50, got "
                             f"[{low}, {high}]")
        return value


class SyntheticBuds(DatasetSource):
    name = "synthetic-buds"
    description = (
        "A synthetic tea-bud detection set, generated offline and deterministically from its params: pale "
        "yellow-green, pointed buds (one class, `bud`) on stems among dark, serrated, glossy leaves, with "
        "bud-coloured but broad young leaves as distractors, varied bud size, partial occlusion, uneven light, "
        "blur, noise and JPEG compression. Written once per params into the cache in Ultralytics format. "
        "Results on it say how methods compare on a small-object task, not how a real tea-bud model behaves.")
    Params = SyntheticBudsParams
    synthetic = True

    def fingerprint(self) -> dict[str, Any]:
        return {"params": self.params.model_dump(mode="json"), "generator_version": GENERATOR_VERSION}

    def prepare(self, cache_dir: Path) -> PreparedDataset:
        from prunebench_builtins.synthetic_buds.writer import ensure_dataset

        p = self.params
        folder = ensure_dataset(Path(cache_dir), p.model_dump(mode="json"))
        low, high = p.buds_per_image
        return PreparedDataset(
            data_yaml=(folder / "data.yaml").resolve(), names={0: "bud"}, synthetic=True,
            description=(f"synthetic tea buds (generator v{GENERATOR_VERSION}): {p.train} train / {p.val} val "
                         f"images of {p.imgsz} px, {low}-{high} buds each, difficulty {p.difficulty}, seed {p.seed}"),
            val_images=sorted((folder / "images" / "val").resolve().glob("*.jpg")))


@hookimpl
def register_datasets(register):
    register(SyntheticBuds)
