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
from prunebench.run.phases import baseline_identity, per_image_results, scratch_folder
from prunebench.run.variants import TORCH, VARIANTS, Variant
from prunebench.util.environment import timing_threads
from prunebench.util.leftovers import scratch_dir

# What a variant takes over from its parent's record: where the model came from and what training did.
CARRIED = ("baseline", "prune_report", "finetune", "distillation", "metrics_before_finetune",
           "metrics_before_finetune_split", "schedule_steps", "sparsity_training", "loss_curve")
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


def run_variant(runner, cell, record: Record) -> None:
    settings, ev = runner.settings, runner.loaded.suite.evaluation
    if settings.results_dir is None:
        raise ValueError(f"{cell.name}: a deployment variant reads its parent cell's kept model from the results "
                         "folder, and this run has none")
    deploy = cell.deploy
    variant = VARIANTS[deploy["variant"]]
    imgsz = int(deploy["imgsz"])
    with record.phase("load"):
        parent = parent_of(cell, settings.results_dir)
        checkpoint = kept_model(parent, settings.results_dir)
    for name in CARRIED:
        if parent.detail(name) is not None:
            record.set_detail(name, copy.deepcopy(parent.detail(name)))
    record.set_detail("parent", {"name": parent.name, "key": parent.key, "model_file": parent.detail("model_file")})
    record.set_detail("model_file", None)  # the kept .pt is the parent's; the export is in the cache
    with scratch_dir(scratch_folder(settings.cache_dir), "variant") as tmp:
        ctx = runner._context(cell, Path(tmp))
        with record.phase("export"):
            artefact, export_info = export_for(variant, checkpoint, imgsz, ctx, ev)
        if export_info is not None:
            record.set_detail("export", export_info)
        with record.phase("evaluate"):
            _evaluate(runner, record, artefact, imgsz, ctx, ev, per_image_results)
        with record.phase("measure"):
            _measure(runner, cell, record, parent, variant, checkpoint, artefact, imgsz, ctx)
    record.set_detail("validation", validation_settings(variant, imgsz))


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


def _evaluate(runner, record: Record, artefact: Path, imgsz: int, ctx, ev, per_image_results) -> None:
    from prunebench.yolo import evaluate

    data_yaml = ctx.dataset.data_yaml
    headline = evaluate.headline_split(data_yaml, ev.split)
    by_split = {}
    for split in evaluate.available_splits(data_yaml):
        result = runner._evaluate(artefact, data_yaml, split, ctx.work_dir / f"val-{split}", imgsz=imgsz)
        by_split[split] = result["metrics"]
        if split == headline:
            record.details.update(per_class_ap=result.get("per_class_ap", {}), curves=result.get("curves"),
                                  ultralytics_speed=result.get("speed"))
            record.details.update(per_image_results(result["per_image"], split, ev.intervals))
    record.add_metrics(by_split[headline])
    record.details.update(eval_split=headline, metrics_by_split=by_split, evaluator=evaluate.EVALUATOR)


def _measure(runner, cell, record: Record, parent: Record, variant: Variant, checkpoint: Path, artefact: Path,
             imgsz: int, ctx) -> None:
    from prunebench.measure import cell as costs
    from prunebench.measure.deployed import deployment, time_deployment
    from prunebench.measure.latency import read_images
    from prunebench.yolo.checkpoints import load_model

    settings, ev = runner.settings, runner.loaded.suite.evaluation
    m = ev.measure
    model = load_model(checkpoint)
    counted, count_details = costs.measure(model, imgsz=imgsz, device="cpu", images=[])
    record.add_metrics({k: counted.get(k) for k in COSTS})
    if record.detail("export"):
        record.add_metrics({"export_bytes": record.detail("export", "bytes")})
    details: dict[str, Any] = {"flops": count_details.get("flops"), "params": count_details.get("params"),
                               "runtime": variant.runtime, "precision": variant.precision, "imgsz": imgsz}
    threads = timing_threads(settings.device, m.threads)
    record.update_environment(threads=threads, **cpu_instruction_sets())
    if not m.latency:
        details["latency"] = {"skipped": "latency measurement off"}
        record.set_detail("measure", details)
        return
    raw = read_images(ctx.dataset.val_images, costs.MAX_TIMING_IMAGES)
    device = settings.device
    own = deployment(variant.runtime, model if variant.runtime == TORCH else artefact, raw, imgsz, threads=threads,
                     device=device)
    references = {}
    dense_checkpoint = _dense_checkpoint(runner, cell, parent, ctx)
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
                                    pairs=m.speedup_pairs)
    # speedup_vs_dense / speedup_iqr: the names the rows read for "faster than dense, in the same deployment".
    if "dense" in references:
        timed["speedup_vs_dense"], timed["speedup_iqr"] = timed.pop("speedup_vs_dense"), timed.pop(
            "speedup_vs_dense_iqr")
    record.add_metrics(timed)
    details.update(latency=timing, references={name: d.info for name, d in references.items()},
                   dense_checkpoint=str(dense_checkpoint))
    record.set_detail("measure", details)


def _dense_checkpoint(runner, cell, parent: Record, ctx) -> Path:
    """The kept checkpoint of the plain dense cell of the parent's model, dataset and seed (the model every
    row of the section is placed against); else the model source's dense checkpoint."""
    found = RecordIndex(runner.settings.results_dir).reference_of(parent)
    if found is not None:
        return kept_model(found.record, runner.settings.results_dir)
    dense = runner.loaded.models[cell.model].instance().load(ctx)
    path = baseline_identity(dense).get("checkpoint")
    if not path:
        raise ValueError(f"{cell.name}: no kept dense model of {cell.model} on {cell.dataset} to time against "
                         "(run its dense cell), and the model source gives no checkpoint")
    return Path(path)


def cpu_instruction_sets() -> dict[str, Any]:
    """The CPU flags INT8 speed depends on (VNNI: int8 dot products; AMX: int8/bf16 tile matrix units), from
    /proc/cpuinfo (Linux); {} elsewhere. Every variant's record carries them in its environment."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    wanted = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile", "amx_int8", "amx_bf16")
    return {"cpu_flags": [f for f in wanted if f in flags]}


__all__ = ["cpu_instruction_sets", "export_for", "parent_of", "run_variant", "validation_settings"]
