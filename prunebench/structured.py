"""Public API for channel-pruning strategy plugins (a stable import path; the code lives in
`prunebench.yolo.channels`). See docs/writing-a-strategy-plugin.md."""

from prunebench.plugin.base import check_amount
from prunebench.yolo.channels import check_channel_prunable, out_channels, prune_structured

__all__ = ["check_amount", "check_channel_prunable", "out_channels", "prune_structured"]
