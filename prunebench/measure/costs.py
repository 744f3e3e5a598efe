"""Parameters, FLOPs and bytes of a model, and the fused, float32 copy that is counted and timed.

Nothing here changes the caller's model: counts and timings come from a deep copy in which any
torch.nn.utils.prune masks still attached are made permanent; FLOPs and timings from that copy
in float32 and eval mode, fused (Conv+BN folded, as Ultralytics runs a model for inference).
So an unstructured-pruned model keeps its zeros, its masks and its BatchNorms.

Conventions (stated in every record's details):
- FLOPs from `torch.utils.flop_counter.FlopCounterMode`, batch 1, imgsz x imgsz, fused model:
  a multiply-add is 2 FLOPs and only matmul-like ops (convolutions, linear layers) count;
  bias adds, activations, upsampling and concatenation are free. On a dense yolov8n this
  equals Ultralytics' `get_flops` (thop MACs x 2) on the fused model (tests/test_measure.py).
- `nonzero_gflops`: each conv/linear layer's FLOPs times the fraction of its weights that are
  non-zero, i.e. the work a sparse kernel could at best skip to; dense kernels do not.
- Sizes: bytes of `torch.save(model.state_dict())` of the model as given (unfused, as it is
  checkpointed), with floating tensors cast to fp32 or fp16; gzip level 9 of the fp16 file
  shows what zeros buy in storage.
"""

from __future__ import annotations

import copy
import gzip
import io
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn.utils import prune
from torch.utils.flop_counter import FlopCounterMode

FLOP_LAYERS = (nn.modules.conv._ConvNd, nn.Linear)


def parameter_counts(model: nn.Module) -> dict[str, Any]:
    """Parameters, non-zero parameters and sparsity (zeros over all parameters)."""
    params = sum(p.numel() for p in model.parameters())
    nonzero = sum(int(torch.count_nonzero(p)) for p in model.parameters())
    return {"params": params, "nonzero_params": nonzero, "sparsity": 1 - nonzero / params if params else 0.0}


@dataclass(frozen=True)
class WeightCounts:
    """What a strategy can remove, counted on the model as it is: the runner's asked-vs-lost check (run.delivered)
    and the plugin kit (testing.measured) compare these before and after a strategy runs."""

    params: int
    nonzero_params: int
    prunable_weights: int  # weights of prunebench.pruning.prunable_convs
    prunable_zeros: int
    conv_channels: int  # output channels of every Conv2d
    prunable_channels: int  # output channels of the convs outside structured_ignored_layers

    @classmethod
    def of(cls, model: nn.Module) -> "WeightCounts":
        from prunebench.yolo.prunable import modules_outside, prunable_convs, structured_ignored_layers

        counts = parameter_counts(effective_copy(model))
        convs = prunable_convs(model)
        ignored = structured_ignored_layers(model)
        return cls(params=counts["params"], nonzero_params=counts["nonzero_params"],
                   prunable_weights=sum(conv.weight.numel() for _, conv in convs),
                   prunable_zeros=sum(int((conv.weight == 0).sum()) for _, conv in convs),
                   conv_channels=sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d)),
                   prunable_channels=sum(m.out_channels for _, m in modules_outside(model, ignored, nn.Conv2d)))


def state_dict_sizes(model: nn.Module) -> dict[str, int]:
    """Bytes of the saved state_dict in fp32 and fp16, and of the fp16 file gzipped at level 9."""
    fp32 = _saved_bytes(model, torch.float32)
    fp16 = _saved_bytes(model, torch.float16)
    return {"size_fp32_bytes": len(fp32), "size_fp16_bytes": len(fp16),
            "size_fp16_gzip_bytes": len(gzip.compress(fp16, compresslevel=9, mtime=0))}


def _saved_bytes(model: nn.Module, dtype: torch.dtype) -> bytes:
    state = {name: t.detach().to("cpu", dtype) if t.is_floating_point() else t.detach().cpu()
             for name, t in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def effective_copy(model: nn.Module) -> nn.Module:
    """A deep copy in which torch.nn.utils.prune masks still attached (weight_orig * weight_mask,
    re-applied by a forward pre-hook) are made permanent: the weights that actually run, counted once."""
    # The masked weight is a computed (non-leaf) tensor, which deepcopy refuses; it is recomputed
    # from weight_orig * weight_mask below, so the copy may start from a detached clone of it.
    memo = {}
    for module in model.modules():
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, prune.BasePruningMethod):
                masked = getattr(module, hook._tensor_name)
                memo[id(masked)] = masked.detach().clone()
    effective = copy.deepcopy(model, memo)
    for module in effective.modules():
        for hook in list(module._forward_pre_hooks.values()):
            if isinstance(hook, prune.BasePruningMethod):
                prune.remove(module, hook._tensor_name)
    return effective


def deployable(model: nn.Module, device: torch.device) -> nn.Module:
    """`model` (a copy: this changes it) made float32, eval-mode and gradient-free on `device`, with
    Conv+BN fused when the model knows how (Ultralytics models' `fuse`), as it runs for inference."""
    runnable = model.float().to(device).eval().requires_grad_(False)
    fuse = getattr(runnable, "fuse", None)
    if callable(fuse):
        with torch.no_grad():
            runnable = fuse(verbose=False) or runnable
    return runnable


def deployable_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """A fused, float32, eval-mode copy of `model` on `device`; the caller's model is untouched."""
    return deployable(effective_copy(model), device)


def stride_multiple(imgsz: int, model: nn.Module) -> int:
    """imgsz rounded up to the model's largest stride, as Ultralytics' check_imgsz does for validation."""
    from prunebench.measure.latency import model_stride

    stride = model_stride(model)
    return -(-imgsz // stride) * stride


def count_flops(model: nn.Module, imgsz: int) -> tuple[int, int]:
    """(dense FLOPs, FLOPs on non-zero weights) of one forward pass at batch 1, imgsz x imgsz."""
    parameter = next(model.parameters())
    example = torch.zeros(1, 3, imgsz, imgsz, device=parameter.device, dtype=parameter.dtype)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(example)
    dense = int(counter.get_total_flops())
    per_module = counter.get_flop_counts()  # keyed "<RootClass>.<qualified name>"
    root = type(model).__name__
    skipped = 0
    for name, module in model.named_modules():
        if isinstance(module, FLOP_LAYERS) and (counts := per_module.get(f"{root}.{name}")):
            weight = module.weight
            zero_fraction = 1 - int(torch.count_nonzero(weight)) / weight.numel()
            skipped += round(sum(counts.values()) * zero_fraction)
    return dense, dense - skipped
