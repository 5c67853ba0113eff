"""A small paired try-on dataset drawn from scratch: moving figures wearing garments of known colour and print.

Every clip (a "motion": the figure's sway, arm swing, background, skin and trousers, drawn from its seed) is rendered
once per garment, so each (clip, garment) pair has its exact worn target, and the garment's exact region is known
in every frame. The result is laid out as ViViD lays it out (`upper_body/videos/<id>_detail.mp4`,
`images/<id>_in_xl.jpg`, `agnostic_mask/<id>_detail.mp4`, `train_pairs.txt`, `test_pairs.txt`), so `dpidm train`
reads it as it reads ViViD.

Poses come from the renderer, not from a pose model (a pose model may find no person in a drawn figure, and the
renderer knows the joints exactly): they are written where `dpidm train prepare` caches poses
(`<root>/dpidm_prepared/`, so prepare skips them) and, for `dpidm tryon`, into the pose cache as the detections of
the backend that `auto` resolves to (`$DPIDM_CACHE/pose/`), so try-on reads them and runs no pose model. Both carry
that backend's name, so a checkpoint trained on them and a try-on reading them agree on it.

The agnostic masks shipped with the set (`agnostic_mask/`) are the garment's exact region grown by MASK_MARGIN
pixels; train on them with `--set data.masks=dataset` and try on with `--mask`, so that the region a model repaints
covers the garment and nothing else the evaluation does not know.

Deterministic: the same arguments give the same pixels (NumPy and OpenCV drawing only).

    python benchmarks/synthetic_tryon.py OUT_DIR      # writes the default set and prints what it wrote
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tryon_cli.data.annotations import PreparedCache
from tryon_cli.io import write_video
from tryon_cli.preprocess.human_pose import Detection, resolve_backend
from tryon_cli.preprocess.keypoints import BODY_INDEX, PoseSequence
from tryon_cli.preprocess.pose_cache import DetectionCache

# The tiny model's training size (model_defaults.tiny): frames drawn at it are used as they are, with no resize.
HEIGHT, WIDTH = 128, 96
FPS = 24
GARMENT_PHOTO_SIZE = (256, 192)  # (height, width): 3:4, as garment photos are fitted
MASK_MARGIN = 5  # pixels the agnostic mask reaches beyond the garment (video coding bleeds colour 1-2 pixels)
CATEGORY_FOLDER = "upper_body"


@dataclass(frozen=True)
class Garment:
    """A garment's look: a base colour and, optionally, horizontal stripes of a second colour."""

    name: str
    colour: tuple[int, int, int]  # RGB
    stripe_colour: tuple[int, int, int] | None = None
    stripe_period: int = 8  # pixels of the frame (stripes scale with the photo in the garment photo)

    def fill(self, height: int, width: int, top: float, scale: float = 1.0) -> np.ndarray:
        """An (H, W, 3) image of the garment's material, stripes counted from row `top`."""
        image = np.empty((height, width, 3), np.uint8)
        image[:] = self.colour
        if self.stripe_colour is not None:
            rows = (np.arange(height) - top) / (self.stripe_period * scale)
            image[np.floor(rows).astype(int) % 2 == 1] = self.stripe_colour
        return image


# Two garments far apart in colour and print: solid red, and blue with yellow stripes.
GARMENTS = (
    Garment("red", (200, 30, 40)),
    Garment("bluestripe", (30, 60, 200), stripe_colour=(240, 220, 40)),
)


def colour_garments(count: int) -> tuple[Garment, ...]:
    """`count` solid garments of saturated colours evenly spaced in hue (named by hue in degrees)."""
    garments = []
    for i in range(count):
        hue = round(180 * i / count)  # OpenCV's hue runs 0-179
        rgb = cv2.cvtColor(np.array([[[hue, 220, 210]]], np.uint8), cv2.COLOR_HSV2RGB)[0, 0]
        garments.append(Garment(f"hue{2 * hue:03d}", tuple(int(v) for v in rgb)))
    return tuple(garments)


def _motion_parameters(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "centre": rng.uniform(0.42, 0.58) * WIDTH,
        "sway": rng.uniform(3, 8),
        "sway_period": rng.uniform(14, 30),
        "swing": rng.uniform(0.3, 0.8),
        "swing_period": rng.uniform(10, 20),
        "phase": rng.uniform(0, 2 * np.pi),
        "background": rng.integers(60, 200, size=(2, 3)),
        "skin": rng.choice([(230, 190, 160), (180, 130, 100), (120, 80, 60)]),
        "trousers": rng.integers(20, 90, size=3),
    }


def _joints(p: dict, t: int) -> dict[str, np.ndarray]:
    """The figure's joints at frame t, in frame pixels (x, y)."""
    cx = p["centre"] + p["sway"] * np.sin(2 * np.pi * t / p["sway_period"] + p["phase"])
    swing = p["swing"] * np.sin(2 * np.pi * t / p["swing_period"] + p["phase"])
    H = HEIGHT
    j = {
        "nose": (cx, 0.16 * H),
        "neck": (cx, 0.27 * H),
        "r_shoulder": (cx - 0.13 * WIDTH, 0.29 * H),
        "l_shoulder": (cx + 0.13 * WIDTH, 0.29 * H),
        "r_hip": (cx - 0.09 * WIDTH, 0.57 * H),
        "l_hip": (cx + 0.09 * WIDTH, 0.57 * H),
        "r_eye": (cx - 0.03 * WIDTH, 0.14 * H),
        "l_eye": (cx + 0.03 * WIDTH, 0.14 * H),
        "r_ear": (cx - 0.07 * WIDTH, 0.15 * H),
        "l_ear": (cx + 0.07 * WIDTH, 0.15 * H),
    }
    upper, lower = 0.16 * H, 0.15 * H
    for side, sign in (("r", -1), ("l", 1)):
        shoulder = np.array(j[f"{side}_shoulder"])
        angle = 0.25 + sign * swing  # from straight down, away from the body
        elbow = shoulder + upper * np.array([sign * np.sin(angle), np.cos(angle)])
        wrist = elbow + lower * np.array([sign * np.sin(angle + 0.2), np.cos(angle + 0.2)])
        hip = np.array(j[f"{side}_hip"])
        knee = hip + np.array([sign * 0.02 * WIDTH + 0.5 * swing * sign, 0.18 * H])
        ankle = knee + np.array([0.0, 0.17 * H])
        j.update({f"{side}_elbow": elbow, f"{side}_wrist": wrist, f"{side}_knee": knee, f"{side}_ankle": ankle})
    return {name: np.asarray(xy, np.float64) for name, xy in j.items()}


def _limb(canvas: np.ndarray, a: np.ndarray, b: np.ndarray, thickness: int, value) -> None:
    cv2.line(canvas, tuple(np.round(a).astype(int)), tuple(np.round(b).astype(int)), value, thickness, cv2.LINE_8)


def _garment_region(j: dict[str, np.ndarray]) -> np.ndarray:
    """Boolean (H, W): the garment's pixels (torso and short sleeves)."""
    region = np.zeros((HEIGHT, WIDTH), np.uint8)
    torso = np.array(
        [
            j["r_shoulder"] + (-2, -2),
            j["l_shoulder"] + (2, -2),
            j["l_hip"] + (3, 2),
            j["r_hip"] + (-3, 2),
        ]
    )
    cv2.fillPoly(region, [np.round(torso).astype(np.int32)], 1)
    for side in ("r", "l"):
        sleeve_end = j[f"{side}_shoulder"] + 0.6 * (j[f"{side}_elbow"] - j[f"{side}_shoulder"])
        _limb(region, j[f"{side}_shoulder"], sleeve_end, 9, 1)
    return region.astype(bool)


def render_frame(p: dict, garment: Garment, t: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(RGB frame, garment region, joints) of motion `p` wearing `garment` at frame t."""
    j = _joints(p, t)
    rows = np.linspace(0, 1, HEIGHT)[:, None, None]
    frame = ((1 - rows) * p["background"][0] + rows * p["background"][1]).repeat(WIDTH, axis=1).astype(np.uint8)
    frame[int(0.9 * HEIGHT) :] = (frame[int(0.9 * HEIGHT) :] * 0.7).astype(np.uint8)  # the floor
    skin, trousers = tuple(int(v) for v in p["skin"]), tuple(int(v) for v in p["trousers"])
    for side in ("r", "l"):
        _limb(frame, j[f"{side}_hip"], j[f"{side}_knee"], 9, trousers)
        _limb(frame, j[f"{side}_knee"], j[f"{side}_ankle"], 8, trousers)
        _limb(frame, j[f"{side}_shoulder"], j[f"{side}_elbow"], 6, skin)
        _limb(frame, j[f"{side}_elbow"], j[f"{side}_wrist"], 5, skin)
    _limb(frame, j["neck"] + (0, 2), j["nose"], 7, skin)
    cv2.circle(frame, tuple(np.round(j["nose"]).astype(int)), int(0.075 * HEIGHT), skin, -1)
    hair = tuple(int(v * 0.3) for v in skin)
    cv2.ellipse(frame, tuple(np.round(j["nose"] - (0, 4)).astype(int)), (9, 6), 0, 180, 360, hair, -1)
    region = _garment_region(j)
    material = garment.fill(HEIGHT, WIDTH, top=j["neck"][1])
    frame[region] = material[region]
    return frame, region, j


def _body_array(j: dict[str, np.ndarray]) -> np.ndarray:
    body = np.zeros((18, 3), np.float32)
    for name, xy in j.items():
        body[BODY_INDEX[name]] = (xy[0], xy[1], 1.0)
    return body


def garment_photo(garment: Garment) -> np.ndarray:
    """The garment laid flat on white, a T-shirt silhouette filling most of a 3:4 photo."""
    h, w = GARMENT_PHOTO_SIZE
    photo = np.full((h, w, 3), 255, np.uint8)
    shape = np.zeros((h, w), np.uint8)
    body = np.array([[0.28, 0.18], [0.72, 0.18], [0.72, 0.88], [0.28, 0.88]]) * (w, h)
    sleeves = [
        np.array([[0.28, 0.18], [0.08, 0.36], [0.18, 0.44], [0.28, 0.34]]) * (w, h),
        np.array([[0.72, 0.18], [0.92, 0.36], [0.82, 0.44], [0.72, 0.34]]) * (w, h),
    ]
    cv2.fillPoly(shape, [np.round(q).astype(np.int32) for q in (body, *sleeves)], 1)
    cv2.ellipse(shape, (w // 2, int(0.18 * h)), (int(0.08 * w), int(0.04 * h)), 0, 0, 180, 0, -1)  # neckline
    material = garment.fill(h, w, top=0.18 * h, scale=h / HEIGHT / 0.75)
    photo[shape > 0] = material[shape > 0]
    return photo


@dataclass(frozen=True)
class Clip:
    """One rendered (motion, garment) video of the set."""

    motion: int
    garment: str
    split: str  # train | test
    video: Path
    mask: Path
    garment_photo: Path
    regions: np.ndarray  # (T, H, W) bool: the garment's exact pixels


def clip_id(motion: int, garment: str) -> str:
    return f"m{motion:02d}_{garment}"


def write_dataset(
    root: Path,
    train_motions: int = 6,
    test_motions: int = 2,
    frames: int = 24,
    garments: tuple[Garment, ...] = GARMENTS,
) -> list[Clip]:
    """Render every motion with every garment into `root` (ViViD layout, poses cached), return the clips.

    Motions 0..train_motions-1 are listed in train_pairs.txt, the next test_motions (people and backgrounds never
    trained on) in test_pairs.txt. The pose cache goes to `$DPIDM_CACHE` (set it to keep it out of your home)."""
    folder = Path(root) / CATEGORY_FOLDER
    for sub in ("videos", "images", "agnostic_mask"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for garment in garments:
        cv2.imwrite(str(folder / "images" / f"{garment.name}_in_xl.jpg"), garment_photo(garment)[..., ::-1])
    cache = PreparedCache(Path(root))
    backend = resolve_backend("auto")
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * MASK_MARGIN + 1, 2 * MASK_MARGIN + 1))
    clips: list[Clip] = []
    pairs: dict[str, list[str]] = {"train": [], "test": []}
    counts = {}
    for motion in range(train_motions + test_motions):
        split = "train" if motion < train_motions else "test"
        p = _motion_parameters(1000 + motion)
        for garment in garments:
            rendered = [render_frame(p, garment, t) for t in range(frames)]
            pixels = [r[0] for r in rendered]
            regions = np.stack([r[1] for r in rendered])
            masks = [cv2.dilate(r.astype(np.uint8), kernel) * 255 for r in regions]
            name = clip_id(motion, garment.name)
            video = folder / "videos" / f"{name}_detail.mp4"
            mask = folder / "agnostic_mask" / f"{name}_detail.mp4"
            write_video(video, pixels, FPS)
            write_video(mask, [np.repeat(m[..., None], 3, axis=-1) for m in masks], FPS)
            body = np.stack([_body_array(r[2]) for r in rendered])
            key = f"{CATEGORY_FOLDER}/videos/{name}_detail"
            cache.save_poses(key, PoseSequence(body=body, height=HEIGHT, width=WIDTH, backend=backend, fps=FPS))
            counts[key] = frames
            detections = DetectionCache.for_video(video, backend)
            for t, points in enumerate(body):
                box = np.array([*points[:, :2].min(0), *points[:, :2].max(0)], np.float32)
                detections[t] = [Detection(box=box, score=1.0, body=points)]
            detections.save()
            pairs[split].append(f"{name}_detail.mp4 {garment.name}_in_xl.jpg")
            clips.append(
                Clip(motion, garment.name, split, video, mask, folder / "images" / f"{garment.name}_in_xl.jpg", regions)
            )
    cache.save_frame_counts(counts)
    for split, lines in pairs.items():
        (folder / f"{split}_pairs.txt").write_text("\n".join(lines) + "\n")
    return clips


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--train-motions", type=int, default=6)
    parser.add_argument("--test-motions", type=int, default=2)
    parser.add_argument("--frames", type=int, default=24)
    args = parser.parse_args()
    clips = write_dataset(args.root, args.train_motions, args.test_motions, args.frames)
    print(json.dumps([{"video": str(c.video), "garment": c.garment, "split": c.split} for c in clips]))


if __name__ == "__main__":
    main()
