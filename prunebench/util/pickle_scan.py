"""What a pickle would do, read from its opcodes without running any of them (standard library only).

torch's weights-only unpickler refuses names outside its allow-list, but still *calls* the allowed ones with the
file's own arguments: `torch.nn.Linear(31623, 31623)` allocates 4 GB, and Ultralytics' `TorchVision("resnet18",
"DEFAULT")` starts a download. This module walks the opcodes (`pickletools.genops`) on a symbolic stack, so a
checkpoint can be judged on what it would call, with which literal arguments, and which storages it declares,
before anything is unpickled. Nothing here imports or constructs anything.
"""

from __future__ import annotations

import pickletools
from dataclasses import dataclass, field
from typing import Any


class PickleScanError(ValueError):
    """The stream is not a pickle this scanner can follow (corrupt, truncated, an unsupported opcode)."""


@dataclass(frozen=True)
class Global:
    """A name the pickle imports (`module.qualname`)."""

    name: str


class _Unknown:
    def __repr__(self) -> str:
        return "?"


UNKNOWN = _Unknown()
_MARK = object()


@dataclass(frozen=True)
class Call:
    """A call the pickle makes: REDUCE / INST / OBJ call `target(*args)`; NEWOBJ calls `target.__new__`."""

    opcode: str
    target: str
    args: Any  # a tuple of literals where the scanner could follow them, else UNKNOWN


@dataclass
class Scan:
    globals: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    persistent_ids: list[Any] = field(default_factory=list)  # each a tuple of literals, or a protocol-0 string
    opcodes: int = 0
    protocol: int = 0


_CONSTANTS = {"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT", "STRING",
              "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8", "BINBYTES",
              "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"}
_FIXED = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False, "EMPTY_TUPLE": ()}


def scan(data: bytes, *, max_opcodes: int = 5_000_000) -> Scan:
    """The globals, calls and persistent ids of the pickle in `data` (PickleScanError when it cannot be followed)."""
    out = Scan()
    stack: list[Any] = []
    memo: dict[Any, Any] = {}

    def pop() -> Any:
        if not stack or stack[-1] is _MARK:
            raise PickleScanError("the stream pops more than it pushed")
        return stack.pop()

    def pop_mark() -> list[Any]:
        items = []
        while stack:
            item = stack.pop()
            if item is _MARK:
                return items[::-1]
            items.append(item)
        raise PickleScanError("a MARK is missing")

    try:
        for opcode, arg, _pos in pickletools.genops(data):
            out.opcodes += 1
            if out.opcodes > max_opcodes:
                raise PickleScanError(f"more than {max_opcodes:,} opcodes")
            name = opcode.name
            if name in _CONSTANTS:
                stack.append(arg)
            elif name in _FIXED:
                stack.append(_FIXED[name])
            elif name == "PROTO":
                if out.opcodes != 1:
                    raise PickleScanError("a PROTO opcode after the start of the stream")
                out.protocol = int(arg)
            elif name == "MARK":
                stack.append(_MARK)
            elif name == "GLOBAL":
                module, _, qualname = str(arg).partition(" ")
                stack.append(_global(out, f"{module}.{qualname}"))
            elif name == "STACK_GLOBAL":
                qualname, module = pop(), pop()
                if not isinstance(module, str) or not isinstance(qualname, str):
                    raise PickleScanError("STACK_GLOBAL with a name the scanner cannot follow")
                stack.append(_global(out, f"{module}.{qualname}"))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[arg] = stack[-1] if stack else UNKNOWN
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1] if stack else UNKNOWN
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo.get(arg, UNKNOWN))
            elif name == "TUPLE":
                stack.append(tuple(pop_mark()))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                n = int(name[-1])
                items = [pop() for _ in range(n)][::-1]
                stack.append(tuple(items))
            elif name == "REDUCE":
                args, target = pop(), pop()
                stack.append(_call(out, "REDUCE", target, args))
            elif name == "NEWOBJ":
                args, target = pop(), pop()
                stack.append(_call(out, "NEWOBJ", target, args))
            elif name == "NEWOBJ_EX":
                _kwargs, args, target = pop(), pop(), pop()
                stack.append(_call(out, "NEWOBJ_EX", target, args))
            elif name == "OBJ":
                items = pop_mark()
                if not items:
                    raise PickleScanError("OBJ without a class")
                stack.append(_call(out, "OBJ", items[0], tuple(items[1:])))
            elif name == "INST":
                module, _, qualname = str(arg).partition(" ")
                stack.append(_call(out, "INST", _global(out, f"{module}.{qualname}"), tuple(pop_mark())))
            elif name == "BINPERSID":
                out.persistent_ids.append(pop())
                stack.append(UNKNOWN)
            elif name == "PERSID":
                out.persistent_ids.append(str(arg))
                stack.append(UNKNOWN)
            elif name in ("EXT1", "EXT2", "EXT4"):
                raise PickleScanError(f"{name} (a name from copyreg's extension registry)")
            elif name == "STOP":
                break
            else:
                _generic(opcode, stack, pop, pop_mark)
    except PickleScanError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, EOFError, UnicodeDecodeError) as exc:  # genops on junk
        raise PickleScanError(f"not a readable pickle ({type(exc).__name__}: {str(exc)[:120]})") from None
    else:
        if out.opcodes == 0:
            raise PickleScanError("empty")
    return out


def _global(out: Scan, name: str) -> Global:
    out.globals.add(name)
    return Global(name)


def _call(out: Scan, opcode: str, target: Any, args: Any) -> Any:
    if not isinstance(target, Global):
        raise PickleScanError(f"{opcode} on something that is not an imported name")
    out.calls.append(Call(opcode, target.name, args if isinstance(args, tuple) else UNKNOWN))
    return UNKNOWN


def _generic(opcode, stack: list[Any], pop, pop_mark) -> None:
    """Any other opcode by its declared stack effect: what it consumes is dropped, what it makes is unknown."""
    before = list(opcode.stack_before)
    if pickletools.markobject in before:
        pop_mark()
        before = before[:before.index(pickletools.markobject)]
    for _ in (b for b in before if b is not pickletools.stackslice):
        pop()
    stack.extend(UNKNOWN for _ in opcode.stack_after)
