"""Draw synthetic tea-shoot images: pale, pointed buds among dark, cluttered leaves.

Deterministic: an image depends only on (seed, split, index, size, buds_per_image, difficulty),
through its own numpy Generator, so the same params give the same bytes and the first train
images do not change when more are asked for. numpy + OpenCV only (no torch).

What makes it hard (each scaled by `difficulty`, 0-1):
  - clutter: dozens of dark, serrated, glossy leaves, a blurred far layer behind them;
  - distractors: young leaves of the buds' own pale colour but broad and ovate, many of them
    growing from the bud's own stem (the "one bud, one leaf" of a tea shoot);
  - small buds (down to ~5 % of the image side), partial occlusion by leaves, uneven light,
    colour casts, defocus blur, sensor noise and JPEG compression.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import cv2
import numpy as np

SUBPIXEL_BITS = 4  # cv2.fillPoly with shift: polygons drawn at 1/16 px precision, anti-aliased


@dataclass(frozen=True)
class Knobs:
    """What `difficulty` (0 = easy, 1 = hard) turns into."""

    background_leaves: tuple[int, int]
    distractors: tuple[int, int]
    young_leaf_prob: float  # a bud-coloured leaf on the bud's own stem
    occlusion_prob: float
    min_bud: float  # bud length as a fraction of the image side
    max_bud: float
    blur_prob: float
    max_blur: float  # Gaussian sigma in px at 320 px
    light_variation: float
    max_noise: float

    @classmethod
    def from_difficulty(cls, d: float) -> Knobs:
        def lerp(easy: float, hard: float) -> float:
            return easy + (hard - easy) * d

        return cls(
            background_leaves=(round(lerp(18, 30)), round(lerp(28, 50))),
            distractors=(round(lerp(0, 3)), round(lerp(2, 9))),
            young_leaf_prob=lerp(0.2, 0.7),
            occlusion_prob=lerp(0.05, 0.45),
            min_bud=lerp(0.10, 0.05),
            max_bud=lerp(0.26, 0.20),
            blur_prob=lerp(0.1, 0.5),
            max_blur=lerp(1.0, 2.2),
            light_variation=lerp(0.15, 0.4),
            max_noise=lerp(0.012, 0.035),
        )


# ---------------------------------------------------------------- colours (RGB floats in 0-1)
def _hsv(h_deg: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h_deg / 360.0, s, v), dtype=np.float32)


def leaf_colour(rng: np.random.Generator) -> np.ndarray:
    """Mature tea leaves: dark to mid green, sometimes bluish or olive."""
    return _hsv(rng.uniform(85, 150), rng.uniform(0.45, 0.85), rng.uniform(0.1, 0.42))


def bud_colour(rng: np.random.Generator) -> np.ndarray:
    """Young shoots: pale yellow-green."""
    return _hsv(rng.uniform(62, 95), rng.uniform(0.35, 0.7), rng.uniform(0.62, 0.92))


# ---------------------------------------------------------------- shapes
@dataclass(frozen=True)
class Leaf:
    """A leaf-like shape in image coordinates: its axis runs from base to tip."""

    cx: float
    cy: float
    length: float
    width: float
    angle: float  # radians, direction base -> tip
    base_exp: float  # half-width profile t**base_exp * (1-t)**tip_exp: small base_exp = rounded base
    tip_exp: float  # > 1: a sharp, drawn-out tip
    bend: float  # curvature of the axis, as a fraction of the length
    serration: float = 0.0  # relative depth of the toothed margin

    def outline(self, samples: int = 40) -> np.ndarray:
        t = np.linspace(0.0, 1.0, samples)
        half = t ** self.base_exp * (1.0 - t) ** self.tip_exp
        half = half / half.max() * (self.width / 2.0)
        if self.serration:
            half = half * (1.0 + self.serration * np.sin(t * math.pi * 2 * 14) ** 2)
        u = (t - 0.5) * self.length
        axis = self.bend * self.length * (t - 0.5) ** 2
        local = np.concatenate([np.stack([u, axis + half], 1), np.stack([u, axis - half], 1)[::-1]])
        c, s = math.cos(self.angle), math.sin(self.angle)
        return local @ np.array([[c, s], [-s, c]], dtype=np.float64) + (self.cx, self.cy)

    def point(self, t: float) -> tuple[float, float]:
        """A point on the axis, t = 0 at the base, 1 at the tip."""
        u = (t - 0.5) * self.length
        v = self.bend * self.length * (t - 0.5) ** 2
        c, s = math.cos(self.angle), math.sin(self.angle)
        return self.cx + u * c - v * s, self.cy + u * s + v * c


@dataclass
class Raster:
    """An anti-aliased coverage patch: alpha (0-1) over rows y0.., columns x0.."""

    x0: int
    y0: int
    alpha: np.ndarray

    @property
    def area(self) -> float:
        return float(self.alpha.sum())


def rasterize(leaf: Leaf, size: int) -> Raster | None:
    pts = leaf.outline()
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, size), min(y1, size)
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    fixed = np.round((pts - (x0, y0)) * (1 << SUBPIXEL_BITS)).astype(np.int32)
    cv2.fillPoly(mask, [fixed], 255, cv2.LINE_AA, shift=SUBPIXEL_BITS)
    return Raster(x0, y0, mask.astype(np.float32) / 255.0)


def paint(image: np.ndarray, leaf: Leaf, colour: np.ndarray, rng: np.random.Generator, *,
          midrib: float = 0.0, highlight: float = 0.0, gloss: float = 0.0) -> Raster | None:
    """Composite a shaded leaf onto `image` (H x W x 3 float RGB): a lengthwise gradient, light from one
    side, an optional pale midrib, a silvery highlight band (buds) or a specular gloss patch (old leaves)."""
    raster = rasterize(leaf, image.shape[0])
    if raster is None:
        return None
    h, w = raster.alpha.shape
    ys, xs = np.mgrid[raster.y0:raster.y0 + h, raster.x0:raster.x0 + w].astype(np.float32) + 0.5
    c, s = math.cos(leaf.angle), math.sin(leaf.angle)
    dx, dy = xs - leaf.cx, ys - leaf.cy
    un = (dx * c + dy * s) / (leaf.length / 2)  # -1 at the base, +1 at the tip
    v = -dx * s + dy * c - leaf.bend * leaf.length * (un / 2) ** 2
    vn = v / max(leaf.width / 2, 1e-3)  # -1..1 across
    side = rng.uniform(-0.35, 0.35)
    shade = 1.0 + rng.uniform(0.0, 0.25) * un + side * vn
    colour_map = colour[None, None, :] * shade[..., None]
    if midrib:
        colour_map = colour_map + midrib * np.exp(-(vn / 0.12) ** 2)[..., None] * (1 - un[..., None] ** 2)
    if highlight:  # the downy, silvery sheen of a tea bud, along one flank
        band = np.exp(-((vn - rng.uniform(-0.4, 0.4)) / 0.28) ** 2) * np.clip(1.1 - np.abs(un), 0, 1)
        colour_map = colour_map * (1 - highlight * band[..., None]) + highlight * band[..., None] * 0.95
    if gloss:  # waxy reflection on a mature leaf: bright, colourless, off-centre
        spot = np.exp(-(((un - rng.uniform(-0.5, 0.5)) / 0.35) ** 2 + ((vn - rng.uniform(-0.5, 0.5)) / 0.3) ** 2))
        colour_map = colour_map + gloss * spot[..., None]
    a = raster.alpha[..., None]
    region = image[raster.y0:raster.y0 + h, raster.x0:raster.x0 + w]
    region[...] = region * (1 - a) + np.clip(colour_map, 0, 1) * a
    return raster


# ---------------------------------------------------------------- the scene
def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Shadowy depth between leaves: a smooth field of very dark greens and browns."""
    grid = rng.integers(3, 7)
    cells = np.stack([_hsv(rng.uniform(60, 150), rng.uniform(0.4, 0.9), rng.uniform(0.03, 0.22))
                      for _ in range(grid * grid)]).reshape(grid, grid, 3)
    return cv2.resize(cells, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _random_leaf(rng: np.random.Generator, size: int, length: tuple[float, float], ratio: tuple[float, float],
                 centre: tuple[float, float] | None = None, angle: float | None = None, serration: float = 0.0) -> Leaf:
    length_px = size * rng.uniform(*length)
    cx, cy = centre if centre is not None else rng.uniform(-0.05, 1.05, 2) * size
    return Leaf(cx, cy, length_px, length_px * rng.uniform(*ratio),
                rng.uniform(0, 2 * math.pi) if angle is None else angle,
                base_exp=rng.uniform(0.35, 0.7), tip_exp=rng.uniform(0.6, 1.0), bend=rng.uniform(-0.3, 0.3),
                serration=serration)


def _paint_mature_leaves(image: np.ndarray, rng: np.random.Generator, count: int) -> None:
    size = image.shape[0]
    for _ in range(count):
        leaf = _random_leaf(rng, size, (0.18, 0.5), (0.35, 0.55), serration=rng.uniform(0.0, 0.08))
        paint(image, leaf, leaf_colour(rng), rng, midrib=rng.uniform(0.0, 0.12),
              gloss=rng.uniform(0.15, 0.45) if rng.random() < 0.35 else 0.0)


def _paint_distractor(image: np.ndarray, rng: np.random.Generator, leaf: Leaf | None = None) -> None:
    """A young leaf: the buds' colour, but broad, ovate and serrated."""
    size = image.shape[0]
    leaf = leaf or _random_leaf(rng, size, (0.1, 0.3), (0.45, 0.75), serration=rng.uniform(0.02, 0.08))
    paint(image, leaf, bud_colour(rng) * rng.uniform(0.8, 1.0), rng, midrib=rng.uniform(0.03, 0.12))


def _place_buds(rng: np.random.Generator, size: int, count: int, knobs: Knobs) -> list[Leaf]:
    """Buds whose tight boxes lie inside the image and do not overlap much with each other."""
    buds: list[Leaf] = []
    for _ in range(count * 30):
        if len(buds) == count:
            break
        length = size * math.exp(rng.uniform(math.log(knobs.min_bud), math.log(knobs.max_bud)))
        bud = Leaf(*rng.uniform(0, size, 2), length, length * rng.uniform(0.26, 0.4), rng.uniform(0, 2 * math.pi),
                   base_exp=rng.uniform(0.45, 0.75), tip_exp=rng.uniform(1.0, 1.5), bend=rng.uniform(-0.25, 0.25))
        pts = bud.outline()
        if pts.min() < 1 or pts.max() > size - 1:
            continue
        if all(math.dist((bud.cx, bud.cy), (o.cx, o.cy)) > 0.55 * (bud.length + o.length) for o in buds):
            buds.append(bud)
    return buds


def _paint_shoot(image: np.ndarray, rng: np.random.Generator, bud: Leaf, knobs: Knobs) -> None:
    """The stem below a bud and, often, the young leaf that grows from it."""
    size = image.shape[0]
    bx, by = bud.point(0.02)
    stem_angle = bud.angle + math.pi + rng.uniform(-0.35, 0.35)
    stem_length = bud.length * rng.uniform(0.5, 1.6)
    ex, ey = bx + stem_length * math.cos(stem_angle), by + stem_length * math.sin(stem_angle)
    thickness = max(1, round(bud.width * rng.uniform(0.18, 0.3)))
    stem_colour = tuple(float(c) for c in bud_colour(rng) * rng.uniform(0.55, 0.8))
    canvas = np.ascontiguousarray(image)
    scale = 1 << SUBPIXEL_BITS
    cv2.line(canvas, (round(bx * scale), round(by * scale)), (round(ex * scale), round(ey * scale)), stem_colour,
             thickness, cv2.LINE_AA, SUBPIXEL_BITS)
    image[...] = canvas
    if rng.random() < knobs.young_leaf_prob:
        t = rng.uniform(0.2, 0.7)
        ax, ay = bx + t * stem_length * math.cos(stem_angle), by + t * stem_length * math.sin(stem_angle)
        leaf_angle = bud.angle + rng.choice([-1, 1]) * rng.uniform(0.4, 1.1)
        length = bud.length * rng.uniform(0.9, 1.8)
        centre = (ax + 0.5 * length * math.cos(leaf_angle), ay + 0.5 * length * math.sin(leaf_angle))
        _paint_distractor(image, rng, _random_leaf(rng, size, (length / size, length / size), (0.45, 0.7),
                                                   centre=centre, angle=leaf_angle, serration=rng.uniform(0.02, 0.08)))


def _occlude(image: np.ndarray, rng: np.random.Generator, bud: Leaf, bud_raster: Raster) -> None:
    """Lay a dark leaf over part of a bud, keeping at least half of it visible (so its box still holds)."""
    size = image.shape[0]
    for _ in range(6):
        direction = rng.uniform(0, 2 * math.pi)
        length = bud.length * rng.uniform(0.8, 1.6)
        reach = 0.5 * bud.length + length * rng.uniform(0.2, 0.45)
        centre = (bud.cx + reach * math.cos(direction), bud.cy + reach * math.sin(direction))
        leaf = _random_leaf(rng, size, (length / size, length / size), (0.35, 0.55), centre=centre,
                            angle=direction + math.pi + rng.uniform(-0.5, 0.5))
        cover = rasterize(leaf, size)
        if cover is not None and _overlap(bud_raster, cover) <= 0.45 * bud_raster.area:
            paint(image, leaf, leaf_colour(rng), rng, midrib=rng.uniform(0.0, 0.1))
            return


def _overlap(a: Raster, b: Raster) -> float:
    x0, y0 = max(a.x0, b.x0), max(a.y0, b.y0)
    x1 = min(a.x0 + a.alpha.shape[1], b.x0 + b.alpha.shape[1])
    y1 = min(a.y0 + a.alpha.shape[0], b.y0 + b.alpha.shape[0])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    pa = a.alpha[y0 - a.y0:y1 - a.y0, x0 - a.x0:x1 - a.x0]
    pb = b.alpha[y0 - b.y0:y1 - b.y0, x0 - b.x0:x1 - b.x0]
    return float((pa * pb).sum())


def _box(raster: Raster, size: int) -> tuple[float, float, float, float]:
    """Tight box of a bud's own shape (occluded parts included), normalised cx, cy, w, h."""
    rows, cols = np.nonzero(raster.alpha >= 0.5)
    if rows.size == 0:  # sub-pixel bud: fall back on the raster's extent
        rows, cols = np.nonzero(raster.alpha > 0)
    x0, x1 = raster.x0 + cols.min(), raster.x0 + cols.max() + 1
    y0, y1 = raster.y0 + rows.min(), raster.y0 + rows.max() + 1
    return (x0 + x1) / 2 / size, (y0 + y1) / 2 / size, (x1 - x0) / size, (y1 - y0) / size


def _finish(image: np.ndarray, rng: np.random.Generator, knobs: Knobs) -> np.ndarray:
    """Camera and light: uneven illumination, colour cast, gamma, defocus, noise."""
    size = image.shape[0]
    grid = rng.uniform(1 - knobs.light_variation, 1 + knobs.light_variation, (3, 3)).astype(np.float32)
    light = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    cast = rng.uniform(0.9, 1.1, 3).astype(np.float32)
    image = np.clip(image * light[..., None] * cast * rng.uniform(0.8, 1.25), 0, 1) ** rng.uniform(0.8, 1.2)
    if rng.random() < knobs.blur_prob:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, knobs.max_blur) * size / 320)
    image = image + rng.normal(0, rng.uniform(0.003, knobs.max_noise), image.shape).astype(np.float32)
    return np.clip(image, 0, 1)


def render(rng: np.random.Generator, size: int, buds: int, knobs: Knobs) -> tuple[np.ndarray, list[tuple]]:
    """One image (size x size x 3 uint8, BGR for cv2.imwrite) and its bud boxes (normalised cx, cy, w, h)."""
    image = _background(rng, size).astype(np.float32)
    far = np.ascontiguousarray(image)
    _paint_mature_leaves(far, rng, rng.integers(10, 20))
    image = cv2.GaussianBlur(far, (0, 0), 2.5 * size / 320)  # the out-of-focus layer behind
    _paint_mature_leaves(image, rng, rng.integers(*knobs.background_leaves, endpoint=True))
    for _ in range(rng.integers(*knobs.distractors, endpoint=True)):
        _paint_distractor(image, rng)
    placed = _place_buds(rng, size, buds, knobs)
    for bud in placed:
        _paint_shoot(image, rng, bud, knobs)
    boxes = []
    for bud in placed:
        raster = paint(image, bud, bud_colour(rng), rng, highlight=rng.uniform(0.2, 0.5))
        boxes.append(_box(raster, size))
        if rng.random() < knobs.occlusion_prob:
            _occlude(image, rng, bud, raster)
    image = _finish(image, rng, knobs)
    return cv2.cvtColor((image * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR), boxes


def encode_jpeg(image: np.ndarray, rng: np.random.Generator) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(82, 96))])
    if not ok:  # pragma: no cover - OpenCV always encodes a valid uint8 image
        raise RuntimeError("OpenCV failed to encode a JPEG")
    return buffer.tobytes()
