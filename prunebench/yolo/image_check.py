"""Every image of the split a leaderboard reports, decoded in full once, as Ultralytics will read it.

PIL's `verify()` (what Ultralytics' own check runs) reads a JPEG's headers, not its data: a truncated file passes,
then Ultralytics drops it from evaluation without a word (4 test images became 3 and mAP50-95 went 0.407 -> 0.285).
So the reported split's images are decoded fully before any cell runs, and an image that does not decode is an
error naming the file. Images that decoded once are remembered by content hash (the digests come from
prunebench.util.filehash's stat cache) in `<cache>/decoded-images.txt`, so a second `validate` decodes nothing.
No torch, no Ultralytics.
"""

from __future__ import annotations

from pathlib import Path

from prunebench.util.atomic import atomic_write_text
from prunebench.util.filehash import file_sha256s
from prunebench.util.paths import default_cache_dir

CACHE_FILENAME = "decoded-images.txt"
MIN_SIDE = 10  # Ultralytics drops images under 10 x 10 pixels


def undecodable(images: list[Path], cache_dir: Path | None = None) -> list[tuple[Path, str]]:
    """The images that do not decode in full (or are under 10 x 10 pixels), with why; the others are remembered."""
    from PIL import Image

    cache = Path(cache_dir or default_cache_dir()) / CACHE_FILENAME
    try:
        known = set(cache.read_text().split())
    except OSError:
        known = set()
    bad, decoded = [], set()
    for image, digest in zip(images, file_sha256s(images)):
        if digest in known:
            continue
        try:
            with Image.open(image) as im:
                im.load()  # decodes every byte: a truncated JPEG raises here, not in verify()
                size = im.size
        except Exception as exc:  # noqa: BLE001 - PIL raises many kinds for a broken file; each means "unreadable"
            bad.append((image, f"{type(exc).__name__}: {' '.join(str(exc).split())[:80]}"))
            continue
        if min(size) < MIN_SIDE:
            bad.append((image, f"{size[0]} x {size[1]} pixels, under {MIN_SIDE}"))
            continue
        decoded.add(digest)
    if decoded:
        try:
            atomic_write_text(cache, "".join(f"{d}\n" for d in sorted(known | decoded)))
        except OSError:
            pass  # a cache that cannot be written costs a decode next time
    return bad
