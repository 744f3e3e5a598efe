"""The architecture YAMLs Ultralytics ships, found without importing it (checks stay torch-free).

Names resolve the way `ultralytics.nn.tasks.yaml_model_load` resolves them: a file of that
name, else the name without its scale letter (yolov8n.yaml -> yolov8.yaml at scale "n").
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

from prunebench.util import safe_yaml
from prunebench.util.filehash import hash_file
from prunebench.yolo.checkpoints import DETECT_HEADS  # torch-free at import

_SCALED_NAME = re.compile(r"(\d+)([nslmx])(.+)?$")  # yolov8n.yaml -> yolov8.yaml, as Ultralytics does
_SCALE_LETTER = re.compile(r"yolo(e-)?v?\d+([nslmx])")  # ultralytics.nn.tasks.guess_model_scale


@dataclass(frozen=True)
class Architecture:
    name: str  # what the user wrote (a shipped name) or the YAML's absolute path
    yaml_path: Path  # the file Ultralytics will read
    scale: str  # "" when the YAML has no scales or the name carries none
    shipped: bool

    def sha256(self) -> str:
        return hash_file(self.yaml_path)


def ultralytics_version() -> str:
    try:
        return importlib.metadata.version("ultralytics")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


@functools.cache
def _models_dir() -> Path | None:
    spec = importlib.util.find_spec("ultralytics")  # locates the package without running it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "cfg" / "models"


@functools.cache
def _read(path: Path) -> dict:
    data = safe_yaml.load(path)
    return data if isinstance(data, dict) else {}


def head_module(path: Path) -> str | None:
    """The module of the YAML's last head layer (e.g. "Detect", "Segment"), or None."""
    head = _read(path).get("head") or []
    last = head[-1] if head else None
    return str(last[2]) if isinstance(last, list) and len(last) > 2 else None


def scales_of(path: Path) -> list[str]:
    return list((_read(path).get("scales") or {}).keys())


@functools.cache
def shipped_yamls() -> dict[str, Path]:
    """Every model YAML in the installed Ultralytics, by file name."""
    root = _models_dir()
    return {p.name: p for p in sorted(root.rglob("*.yaml"))} if root and root.is_dir() else {}


def shipped_detection_names() -> list[str]:
    """Detection YAMLs as users write them: yolov8{n,s,m,l,x}.yaml stands for yolov8n.yaml ... yolov8x.yaml."""
    names = []
    for name, path in shipped_yamls().items():
        if head_module(path) not in DETECT_HEADS:
            continue
        scales = scales_of(path)
        if len(scales) > 1 and not _SCALED_NAME.search(Path(name).stem):
            name = re.sub(r"(\d+)", lambda m: m.group(1) + "{" + ",".join(scales) + "}", name, count=1)
        names.append(name)
    return sorted(names)


def resolve(arch: str) -> Architecture:
    """The detection architecture `arch` names; ValueError saying what is wrong and what exists otherwise."""
    if not arch.endswith((".yaml", ".yml")):
        raise ValueError(f"arch {arch!r} must be an architecture YAML, e.g. `arch: {arch}.yaml` "
                         f"or a path to your own .yaml; {_available()}")
    given = Path(arch).expanduser()
    if given.is_file():
        return _checked(Architecture(str(given.resolve()), given.resolve(), _scale(given.stem), shipped=False))
    if len(given.parts) > 1:
        raise ValueError(f"architecture YAML not found: {given.resolve()}; fix the path, or use a shipped "
                         f"architecture by name; {_available()}")
    shipped = shipped_yamls()
    if arch in shipped:
        return _checked(Architecture(arch, shipped[arch], _scale(given.stem), shipped=True))
    unified = _SCALED_NAME.sub(r"\1\3", given.stem) + given.suffix
    if unified != arch and unified in shipped:
        scale = _SCALED_NAME.search(given.stem).group(2)
        found = _checked(Architecture(arch, shipped[unified], scale, shipped=True))
        if scale not in scales_of(found.yaml_path):
            scales = scales_of(found.yaml_path)
            offered = f"its scales are {', '.join(scales)}" if scales else "it has no scales (use the name as is)"
            raise ValueError(f"arch {arch!r}: {unified} has no scale {scale!r}; {offered}; {_available()}")
        return found
    raise ValueError(f"arch {arch!r} is not an architecture Ultralytics {ultralytics_version()} ships; "
                     f"{_available()}; or give the path of your own YAML")


def _scale(stem: str) -> str:
    match = _SCALE_LETTER.search(stem)
    return match.group(2) if match else ""


_MODULE_NAME = re.compile(r"^(?:nn\.|torchvision\.ops\.)?[A-Za-z_][A-Za-z0-9_]*$")


def check_names(path: Path) -> None:
    """ValueError unless the YAML's `activation` is a torch.nn class called with literal arguments and every layer
    names its module by a plain name: Ultralytics' model parser would otherwise `eval` the activation string
    (`activation: __import__("os").system(...)` runs a command) and look modules up by any string."""
    data = _read(path)
    act = data.get("activation")
    if act is not None and not _literal_nn_call(act):
        raise ValueError(f"{path}: activation {str(act)[:80]!r} is not a torch.nn activation called with literal "
                         "arguments (e.g. `activation: nn.SiLU()` or `nn.LeakyReLU(0.1)`): an architecture YAML names "
                         "its parts, it never runs code, so prunebench refuses it")
    for part in ("backbone", "head"):
        for index, layer in enumerate(data.get(part) or []):
            module = layer[2] if isinstance(layer, list) and len(layer) > 2 else None
            if not isinstance(module, str) or not _MODULE_NAME.match(module):
                raise ValueError(f"{path}: {part}[{index}] names its module as {str(module)[:80]!r}, not a plain "
                                 "name such as Conv, C2f or nn.Upsample: refused (an architecture YAML names its "
                                 "layers; it never runs code)")


def _literal_nn_call(text) -> bool:
    """`[torch.]nn.Name(literal, ...)`, the only activation form Ultralytics' safe mode accepts."""
    import ast

    if not isinstance(text, str):
        return False
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return False
    if not isinstance(call, ast.Call):
        return False
    names, node = [], call.func
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or [*names[1:], node.id] not in (["nn"], ["nn", "torch"]):
        return False
    try:
        for value in [*call.args, *(k.value for k in call.keywords)]:
            ast.literal_eval(value)
    except ValueError:
        return False
    return True


def _checked(found: Architecture) -> Architecture:
    check_names(found.yaml_path)
    head = head_module(found.yaml_path)
    if head == "RTDETRDecoder":  # a detector, but a transformer one that prunebench neither trains nor prunes
        raise ValueError(f"arch {found.name!r} is RT-DETR (its head is RTDETRDecoder), a transformer detector "
                         f"prunebench does not support; {_available()}")
    if head not in DETECT_HEADS:
        variant = _detection_variant(found.name)
        use = f"; for detection use {variant}" if variant else ""
        raise ValueError(f"arch {found.name!r} is not a detection architecture (its head is {head}){use}; "
                         f"{_available()}")
    return found


def _detection_variant(name: str) -> str | None:
    """yolo11n-seg.yaml -> yolo11n.yaml (and -pose, -obb, -cls), when Ultralytics ships that detection YAML."""
    for task in ("-seg", "-pose", "-obb", "-cls"):
        if task in name:
            candidate = Path(name.replace(task, "", 1)).name
            try:
                return resolve(candidate).name
            except ValueError:
                return None
    return None


def _available() -> str:
    names = shipped_detection_names()
    if not names:
        return "Ultralytics is not installed here, so no shipped architectures were found"
    return "shipped detection architectures: " + ", ".join(names)
