"""Run a deployment-variant cell (prunebench.run.variants): deploy its parent cell's kept model, train nothing.

1. The parent's record (same results folder, ok) and its kept checkpoint, checked against the recorded sha256.
2. Export it with Ultralytics' exporter (cached: prunebench.yolo.export_cache); INT8 calibrates on the train
   split only (prunebench.yolo.calibration). A smaller-input variant keeps the checkpoint itself.
3. Validate the exported file itself, on every split, with Ultralytics' validator (batch 1 and rect=False,
   forced by the exporter's static shapes; a smaller input validates the .pt at rect=False, as every row of a
   deploying suite is); the headline split's per-image matches and bootstrap replicates are kept exactly as
   for a torch cell (run.phases.per_image_results), so intervals and paired Δ work across variants.
4. Time it in its own runtime (prunebench.measure.deployed), paired against
   - `dense`: the dense model deployed the same way (pruned cells: the speed-up pruning buys there);
   - `torch`: the dense model in PyTorch FP32 at the suite's imgsz (every variant: where the row stands on the
     one latency axis every row of the section is placed on);
   - `fp32`: the same model's FP32 export in the same runtime (INT8 variants: what quantizing buys).
   Costs (params, GFLOPs at the variant's imgsz) are counted on the checkpoint (an INT8 model has the FP32
   model's GFLOPs; the export's own size is recorded).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from prunebench.records.index import RecordIndex
from prunebench.records.kept import kept_model
from prunebench.records.record import Record
from prunebench.records.store import cells_dir, load_record
from prunebench.run.phases import CellWork, Phase, baseline_identity, evaluate_every_split
from prunebench.run.variants import TORCH, VARIANTS, Variant
from prunebench.util.environment import timing_threads
from prunebench.util.measurement import Measurement

# What a variant takes over from its parent's record: where the model came from and what training did.
CARRIED = ("baseline", "prune_report", "finetune", "distillation", "metrics_before_finetune",
           "metrics_before_finetune_split", "schedule_steps", "sparsity_training", "loss_curve", "latency_target")
COSTS = ("params", "nonzero_params", "sparsity", "gflops", "nonzero_gflops", "size_fp32_bytes", "size_fp16_bytes",
         "size_fp16_gzip_bytes")


def parent_of(cell, results_dir: Path) -> Record:
    parent = cell.deploy["parent"]
    record = load_record(cells_dir(results_dir) / f"{parent['name']}.{parent['key']}.json")
    if record is None or not record.ok:
        state = "has no record" if record is None else "failed"
        raise ValueError(f"{cell.name} deploys the kept model of cell {parent['name']}, which {state} in "
                         f"{results_dir}: `prunebench run` runs every cell before its variants; run that cell "
                         f"(--only {parent['name']}) and then this one")
    return record


def variant_phases() -> list[Phase]:
    """load (the parent's record and kept checkpoint) -> export -> evaluate -> measure."""
    return [Phase("load", load_parent), Phase("export", export), Phase("evaluate", evaluate), Phase("measure", measure)]


def load_parent(work: CellWork) -> None:
    cell, record, settings = work.cell, work.record, work.settings
    if settings.results_dir is None:
        raise ValueError(f"{cell.name}: a deployment variant reads its parent cell's kept model from the results "
                         "folder, and this run has none")
    parent = parent_of(cell, settings.results_dir)
    work.steps.update(parent=parent, variant=VARIANTS[cell.deploy["variant"]], imgsz=int(cell.deploy["imgsz"]),
                      kept=kept_model(parent, settings.results_dir))
    for name in CARRIED:
        if parent.detail(name) is not None:
            record.set_detail(name, copy.deepcopy(parent.detail(name)))
    record.set_detail("parent", {"name": parent.name, "key": parent.key, "model_file": parent.detail("model_file")})
    record.set_detail("model_file", None)  # the kept .pt is the parent's; the export is in the cache
    record.set_detail("validation", validation_settings(work.steps["variant"], work.steps["imgsz"]))


def export(work: CellWork) -> None:
    state = work.steps
    work.checkpoint, export_info = export_for(state["variant"], state["kept"], state["imgsz"], work.ctx, work.evaluation)
    if export_info is not None:
        work.record.set_detail("export", export_info)


def evaluate(work: CellWork) -> None:
    evaluate_every_split(work, work.checkpoint, imgsz=work.steps["imgsz"])


def validation_settings(variant: Variant, imgsz: int) -> dict[str, Any]:
    if variant.name == TORCH:
        return {"file": "the parent's kept .pt", "imgsz": imgsz, "rect": False, "batch": "the suite's",
                "why": "rect=False as every row of a suite that deploys exports (batch does not change the "
                       "figures at rect=False: each image is letterboxed to imgsz x imgsz alone)"}
    return {"file": f"the {variant.name} export itself", "imgsz": imgsz, "rect": False, "batch": 1,
            "why": "forced by Ultralytics' validator on a static export (engine/validator.py)"}


def export_for(variant: Variant, checkpoint: Path, imgsz: int, ctx, ev) -> tuple[Path, dict[str, Any] | None]:
    """(what is validated and timed, how it was exported): the export, or the checkpoint for torch."""
    if variant.format is None:
        return checkpoint, None
    from prunebench.yolo.export_cache import cached_export

    calibration, identity = None, None
    if variant.int8:
        from prunebench.yolo.calibration import calibration_data

        calibration = calibration_data(ctx.dataset.data_yaml, ctx.work_dir / "calibration",
                                       ev.calibration.max_images)
        identity = {"dataset": ctx.dataset.fingerprint, "max_images": ev.calibration.max_images,
                    "images": calibration.summary()["images_sha"]}
    path, info = cached_export(checkpoint, variant.format, imgsz, ctx.cache_dir, calibration=calibration,
                               calibration_id=identity)
    if calibration is not None:
        info["calibration"] = calibration.summary()
    return path, info


def measure(work: CellWork) -> None:
    """Costs counted on the checkpoint; latency timed in the variant's runtime, paired against its references;
    all into the record at once."""
    from prunebench.measure import cell as costs
    from prunebench.measure.deployed import deployment, time_deployment
    from prunebench.measure.pairs import PairRule
    from prunebench.measure.latency import read_images
    from prunebench.yolo.checkpoints import load_model

    cell, record, ctx, settings, ev = work.cell, work.record, work.ctx, work.settings, work.evaluation
    parent, variant, imgsz, checkpoint = (work.steps[k] for k in ("parent", "variant", "imgsz", "kept"))
    artefact = work.checkpoint
    m = ev.measure
    model = load_model(checkpoint)
    counted = costs.measure(model, imgsz=imgsz, device="cpu", images=[])
    metrics = {k: counted.metrics.get(k) for k in COSTS}
    if record.detail("export"):
        metrics["export_bytes"] = record.detail("export", "bytes")
    details: dict[str, Any] = {"flops": counted.details.get("flops"), "params": counted.details.get("params"),
                               "runtime": variant.runtime, "precision": variant.precision, "imgsz": imgsz}
    threads = timing_threads(settings.device, m.threads)
    where = dict(threads=threads, cpu_flags=cpu_instruction_sets())  # what the timing ran with
    if not m.latency:
        details["latency"] = {"skipped": "latency measurement off"}
        record.put_measurement(Measurement(metrics, details, **where))
        return
    raw = read_images(ctx.dataset.val_images, costs.MAX_TIMING_IMAGES)
    device = settings.device
    own = deployment(variant.runtime, model if variant.runtime == TORCH else artefact, raw, imgsz, threads=threads,
                     device=device)
    references = {}
    dense_checkpoint = _dense_checkpoint(work, parent)
    dense = load_model(dense_checkpoint)
    references["torch"] = deployment(TORCH, dense, raw, ev.imgsz, threads=threads, device=device)
    if not cell.is_dense:
        dense_artefact = dense_checkpoint
        if variant.format is not None:
            dense_artefact, info = export_for(variant, dense_checkpoint, imgsz, ctx, ev)
            details["dense_export"] = info
        references["dense"] = deployment(variant.runtime, dense if variant.runtime == TORCH else dense_artefact, raw,
                                         imgsz, threads=threads, device=device)
    if variant.int8:
        fp32 = VARIANTS[variant.name.removesuffix("-int8")]
        fp32_artefact, info = export_for(fp32, checkpoint, imgsz, ctx, ev)
        details["fp32_export"] = info
        references["fp32"] = deployment(variant.runtime, fp32_artefact, raw, imgsz, threads=threads, device=device)
    timed, timing = time_deployment(own, references, threads=threads, min_run_time=m.min_run_time,
                                    rule=PairRule.from_settings(m))
    # speedup_vs_dense / speedup_iqr (and speedup_low, ... from time_deployment): the names the rows read for
    # "faster than dense, in the same deployment".
    if "dense" in references:
        timed["speedup_iqr"] = timed.pop("speedup_vs_dense_iqr")
    metrics.update(timed)
    details.update(latency=timing, references={name: d.info for name, d in references.items()},
                   dense_checkpoint=str(dense_checkpoint))
    record.put_measurement(Measurement(metrics, details, **where))


def _dense_checkpoint(work: CellWork, parent: Record) -> Path:
    """The kept checkpoint of the plain dense cell of the parent's model, dataset and seed (the model every
    row of the section is placed against); else the model source's dense checkpoint."""
    cell, results_dir = work.cell, work.settings.results_dir
    found = RecordIndex(results_dir).reference_of(parent)
    if found is not None:
        return kept_model(found.record, results_dir)
    dense = work.loaded.models[cell.model].instance().load(work.ctx)
    path = baseline_identity(dense).get("checkpoint")
    if not path:
        raise ValueError(f"{cell.name}: no kept dense model of {cell.model} on {cell.dataset} to time against "
                         "(run its dense cell), and the model source gives no checkpoint")
    return Path(path)


def cpu_instruction_sets() -> tuple[str, ...] | None:
    """The CPU flags INT8 speed depends on (VNNI: int8 dot products; AMX: int8/bf16 tile matrix units), from
    /proc/cpuinfo (Linux); None elsewhere. Every variant's record carries them in its environment (cpu_flags)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
    return tuple(f for f in wanted if f in flags)


__all__ = ["cpu_instruction_sets", "export_for", "parent_of", "validation_settings", "variant_phases"]
