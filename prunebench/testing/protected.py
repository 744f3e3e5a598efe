"""What no strategy may change in a detection head, checked by shape and by value.

- The DFL conv: its weights are the fixed bin indices 0..reg_max-1 that turn a distribution over bins into a box
  side. Every one must stay as it was (zeroing bins 0..7 took a trained YOLOv8n's mAP50 to 0).
- Each head branch's output conv (the last conv of every class branch `cv3` and box branch `cv2`, and of the
  one-to-one branches of end-to-end heads): its width (one output per class, 4 x reg_max per box) must stay,
  and none of its outputs may lose every weight, for such an output is a constant whatever the image (zeroing a
  class branch's output conv silences that scale's class scores). Zeroing some of an output conv's weights is
  allowed: per-layer magnitude pruning does that, and prunebench.pruning.prunable_convs includes these convs.
"""

from __future__ import annotations

from typing import Any

from prunebench.testing.failures import ConformanceFailure

BRANCHES = (("cv3", "class"), ("one2one_cv3", "class"), ("cv2", "box"), ("one2one_cv2", "box"))


def detect_head(model):
    from prunebench.yolo.prunable import detect_head as find

    head = find(model)
    if head is None:
        raise ConformanceFailure("the model has no Detect head any more")
    return head


def _output_convs(head) -> list[tuple[str, str, Any]]:
    """(name, 'class' | 'box', conv) of each head branch's last conv, named as `cv3.0.2`."""
    import torch

    found = []
    for branches, what in BRANCHES:
        for i, branch in enumerate(getattr(head, branches, None) or []):
            convs = [(n, m) for n, m in branch.named_modules() if isinstance(m, torch.nn.Conv2d)]
            if convs:
                name, last = convs[-1]
                found.append((f"{branches}.{i}.{name}", what, last))
    return found


def _dead_outputs(weight) -> int:
    """Outputs (filters) of a conv weight whose every weight is zero."""
    return int((weight.detach().flatten(1) == 0).all(dim=1).sum())


class ProtectedLayers:
    """The protected layers of a model as captured before pruning; `problems(model)` says what changed since."""

    def __init__(self, dfl_weight, nc: int, reg_max: int, dead: dict[str, int] | None = None):
        self.dfl_weight, self.nc, self.reg_max = dfl_weight, nc, reg_max
        self.dead = dead or {}  # output conv name -> outputs already dead before pruning (an untrained model: 0)

    @classmethod
    def capture(cls, model) -> "ProtectedLayers":
        head = detect_head(model)
        dfl = getattr(getattr(head, "dfl", None), "conv", None)
        dead = {name: _dead_outputs(conv.weight) for name, _, conv in _output_convs(head)}
        return cls(None if dfl is None else dfl.weight.detach().clone().cpu().float(), int(head.nc),
                   int(head.reg_max), dead)

    def problems(self, model) -> list[str]:
        head = detect_head(model)
        found = self._dfl_problems(head)
        if int(head.nc) != self.nc:
            found.append(f"the head's class count changed from {self.nc} to {int(head.nc)}")
        for name, what, conv in _output_convs(head):
            want = self.nc if what == "class" else 4 * self.reg_max
            outputs = conv.weight.shape[0]
            if outputs != want or conv.out_channels != want:
                found.append(f"the {what} output conv {name} has {outputs} outputs instead of {want} "
                             f"({'one per class' if what == 'class' else '4 sides x reg_max bins'}); a head's output "
                             "convs must keep their widths")
                continue
            dead = _dead_outputs(conv.weight) - self.dead.get(name, 0)
            if dead > 0:
                found.append(f"the {what} output conv {name} has {dead} of its {outputs} outputs with every weight "
                             f"zero (such an output is a constant whatever the image: "
                             f"{'the class scores' if what == 'class' else 'the box sides'} of that scale are lost); "
                             "leave each head branch's output conv some weights, as "
                             "prunebench.pruning.structured_ignored_layers and per-layer magnitude pruning do")
        return found

    def _dfl_problems(self, head) -> list[str]:
        import torch

        if self.dfl_weight is None:
            return []
        dfl = getattr(getattr(head, "dfl", None), "conv", None)
        if dfl is None or dfl.weight.shape != self.dfl_weight.shape:
            return [f"the DFL conv was removed or reshaped (was {tuple(self.dfl_weight.shape)})"]
        now = dfl.weight.detach().cpu().float()
        if torch.equal(now, self.dfl_weight):
            return []
        changed = (now != self.dfl_weight).flatten()
        bins = [i for i in range(changed.numel()) if changed[i]]
        values = now.flatten()
        shown = ", ".join(f"{i} -> {float(values[i]):g}" for i in bins[:8]) + (", ..." if len(bins) > 8 else "")
        return [f"{len(bins)} of the DFL conv's {self.dfl_weight.numel()} fixed weights changed (bins {shown}; they "
                f"are the bin indices 0..{self.reg_max - 1} that decode boxes; leave model.dfl alone, as "
                "prunebench.pruning.prunable_convs does)"]

    def assert_kept(self, model) -> None:
        found = self.problems(model)
        if found:
            raise ConformanceFailure("; ".join(found))
