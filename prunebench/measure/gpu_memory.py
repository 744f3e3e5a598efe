"""A cell's GPU memory: its peak for the record, and the cache given back after it, so the next cell starts clean.

PyTorch's caching allocator keeps freed blocks reserved by the process: once a cell returns, its models, optimizer
state and activations are garbage, but their memory stays reserved until `torch.cuda.empty_cache()`. Cells that
share one GPU (several processes, or Ray tasks with fractional GPUs) would otherwise crowd each other out. The
peak statistics are per process and per device: reset when a cell starts, read when it ends. On the CPU nothing
is measured and the record is left as it is.
"""

from __future__ import annotations

import gc
from typing import Any

MIB = 1024 * 1024


class CellMemory:
    """Started when a cell starts (peak statistics reset); `finish(record)` when it ends, ok or failed."""

    def __init__(self, device: str):
        self.device = None
        if not str(device).startswith("cuda"):
            return
        import torch

        if not torch.cuda.is_available():
            return
        self.device = torch.device(device)
        release(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.allocated_before = torch.cuda.memory_allocated(self.device)

    def finish(self, record) -> dict[str, Any] | None:
        """Write the cell's peak into the record (details.gpu_memory, and metrics.peak_gpu_memory_mb), then release
        what the cell left cached; returns what was written (None on the CPU)."""
        if self.device is None:
            return None
        import torch

        peak_allocated = torch.cuda.max_memory_allocated(self.device)
        peak_reserved = torch.cuda.max_memory_reserved(self.device)
        reserved_at_end = torch.cuda.memory_reserved(self.device)
        release(self.device)
        free, total = torch.cuda.mem_get_info(self.device)
        found = {
            "device": str(self.device),
            "peak_allocated_bytes": int(peak_allocated),
            "peak_reserved_bytes": int(peak_reserved),
            "allocated_before_bytes": int(self.allocated_before),
            "reserved_at_end_bytes": int(reserved_at_end),
            "allocated_after_release_bytes": int(torch.cuda.memory_allocated(self.device)),
            "reserved_after_release_bytes": int(torch.cuda.memory_reserved(self.device)),
            "device_free_after_release_bytes": int(free),
            "device_total_bytes": int(total),
            "counted": "torch.cuda.max_memory_allocated / max_memory_reserved of this process over the cell "
                       "(peak statistics reset at its start); other processes on the GPU are not counted",
        }
        record.set_detail("gpu_memory", found)
        record.add_metrics({"peak_gpu_memory_mb": round(peak_allocated / MIB, 1)})
        return found


def release(device=None) -> None:
    """Collect garbage (cycles can hold CUDA tensors), then hand cached blocks back to the driver."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()


__all__ = ["CellMemory", "release"]
