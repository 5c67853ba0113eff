"""Builders of small datasets in the real VVT, ViViD and VITON-HD layouts (REFERENCE.md section 2), from the
sample clips in ../shared/data, shared by tests/test_data*.py and tests/test_train*.py. No tests here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tryon_cli.data.annotations import PreparedCache
from tryon_cli.io import read_frames, read_image, write_video
from tryon_cli.preprocess.keypoints import BODY_INDEX, GarmentLandmarks, PoseSequence
from tryon_cli.preprocess.masks import agnostic_masks

UPPER_NAMES = ("neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist", "r_hip", "l_hip")
# A standing person facing the camera, OpenPose-18, in units of the frame (x / width, y / height).
_STANDING = np.array(
    [
        [0.50, 0.12],
        [0.50, 0.22],
        [0.38, 0.22],
        [0.33, 0.37],
        [0.31, 0.50],
        [0.62, 0.22],
        [0.67, 0.37],
        [0.69, 0.50],
        [0.43, 0.52],
        [0.43, 0.72],
        [0.43, 0.92],
        [0.57, 0.52],
        [0.57, 0.72],
        [0.57, 0.92],
        [0.47, 0.10],
        [0.53, 0.10],
        [0.44, 0.11],
        [0.56, 0.11],
    ],
    np.float32,
)


def standing_poses(frames: int, height: int, width: int) -> np.ndarray:
    """(T, 18, 3) poses of a person swaying sideways, in pixels, all points confident."""
    body = np.ones((frames, 18, 3), np.float32)
    sway = 0.02 * np.sin(np.arange(frames) / 2.0)
    body[..., 0] = (_STANDING[:, 0] + sway[:, None]) * width
    body[..., 1] = _STANDING[:, 1] * height
    return body


def _face68(width: int) -> np.ndarray:
    """(68, 2) offsets from the nose of an iBUG-68 face looking at the camera: its right side (jaw 0-7, brow 17-21,
    eye 36-41, mouth corner 48) on the image left, its left side on the image right."""
    x = np.concatenate(
        [
            np.linspace(-1, 1, 17),  # jaw, from the face's right ear to its left
            np.linspace(-0.8, 0.8, 10),  # brows
            np.zeros(4),  # nose bridge
            np.linspace(-0.3, 0.3, 5),  # nose wings and tip
            [-0.7, -0.55, -0.45, -0.3, -0.45, -0.55],  # right eye: outer corner, upper lid, inner corner, lower lid
            [0.3, 0.45, 0.55, 0.7, 0.55, 0.45],  # left eye: inner corner, upper lid, outer corner, lower lid
            np.linspace(-0.4, 0.4, 7),  # outer lip, upper half, corner to corner
            np.linspace(0.3, -0.3, 5),  # outer lip, lower half, back
            np.linspace(-0.3, 0.3, 5),  # inner lip, upper
            [0.15, 0.0, -0.15],  # inner lip, lower
        ]
    )
    y = np.concatenate([np.sin(np.linspace(0, np.pi, 17)), -np.ones(10), np.linspace(-0.6, 0, 4), np.full(5, 0.1)])
    y = np.concatenate([y, np.full(12, -0.5), np.full(12, 0.5), np.full(8, 0.5)])
    return np.stack([x, y], axis=1) * 0.06 * width


def whole_body_poses(frames: int, height: int, width: int) -> PoseSequence:
    """`standing_poses` with DWPose's hands and face: each hand's 21 points fanning down from its own wrist (point 0
    is the wrist; the left hand spreads wider, so the two differ), the face of `_face68` around the nose."""
    body = standing_poses(frames, height, width)
    joints = np.arange(1, 21)
    fan = np.zeros((21, 2), np.float32)
    fan[1:, 0] = ((joints - 1) // 4 - 2) * 0.02 * width  # five fingers side by side
    fan[1:, 1] = ((joints - 1) % 4 + 1) * 0.01 * height  # four joints each, downwards
    hands = np.ones((frames, 2, 21, 3), np.float32)
    for hand, wrist, spread in ((0, BODY_INDEX["l_wrist"], 1.0), (1, BODY_INDEX["r_wrist"], 0.5)):
        hands[:, hand, :, :2] = body[:, wrist, None, :2] + fan * [spread, 1.0]
    face = np.ones((frames, 68, 3), np.float32)
    face[..., :2] = body[:, BODY_INDEX["nose"], None, :2] + _face68(width)
    return PoseSequence(body, height, width, hands=hands, face=face, backend="dwpose")


def garment_landmarks(height: int, width: int) -> GarmentLandmarks:
    points = np.array(
        [
            [
                _STANDING[
                    1
                    if n == "neck"
                    else {
                        "r_shoulder": 2,
                        "r_elbow": 3,
                        "r_wrist": 4,
                        "l_shoulder": 5,
                        "l_elbow": 6,
                        "l_wrist": 7,
                        "r_hip": 8,
                        "l_hip": 11,
                    }[n]
                ]
            ]
            for n in UPPER_NAMES
        ],
        np.float32,
    )[:, 0]
    pts = np.concatenate([points * [width, height], np.ones((9, 1), np.float32)], axis=1)
    return GarmentLandmarks("upper", UPPER_NAMES, pts.astype(np.float32), estimated=True, height=height, width=width)


def _small(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(frame).resize((width, height), Image.BILINEAR))


def clip(shared: Path, name: str, frames: int, height: int, width: int, folder: str = "videos") -> list[np.ndarray]:
    return [_small(f, height, width) for f in read_frames(shared / "vivid" / folder / f"{name}.mp4", 0, frames)]


def build_vivid(
    root: Path, shared: Path, frames: int = 8, height: int = 64, width: int = 48, prepare: bool = True
) -> Path:
    """`root/upper_body/` with two clips (upper1 and lower1 of the samples, both paired with upper garments),
    videos/, images/, agnostic_mask/, train_pairs.txt; with `prepare`,
    synthetic poses, dpidm's masks from them and landmarks cached (what `dpidm train prepare` leaves)."""
    category = root / "upper_body"
    for sub in ("videos", "images", "agnostic_mask"):
        (category / sub).mkdir(parents=True, exist_ok=True)
    pairs = []
    for ident, (video, cloth) in enumerate([("upper1", "00057_00"), ("lower1", "00126_00")], start=1):
        stem = f"{ident:05d}"
        write_video(category / "videos" / f"{stem}_detail.mp4", clip(shared, video, frames, height, width), 24)
        write_video(
            category / "agnostic_mask" / f"{stem}_detail.mp4",
            clip(shared, video, frames, height, width, "agnostic_mask"),
            24,
        )
        Image.fromarray(_small(read_image(shared / "vivid" / "cloth" / f"{cloth}.jpg"), height, width)).save(
            category / "images" / f"{stem}_in_xl.jpg", quality=95
        )
        pairs.append(f"{stem}_detail.mp4 {stem}_in_xl.jpg")
        if prepare:
            cache = PreparedCache(root)
            poses = PoseSequence(standing_poses(frames, height, width), height, width, backend="yolo")
            cache.save_poses(f"upper_body/videos/{stem}_detail", poses)
            cache.save_masks(f"upper_body/videos/{stem}_detail", np.stack(list(agnostic_masks(poses, "upper"))), True)
            cache.save_garment(f"upper_body/images/{stem}_in_xl", garment_landmarks(height, width))
    (category / "train_pairs.txt").write_text("\n".join(pairs) + "\n")
    return root


def _openpose_json(path: Path, body: np.ndarray, body25: bool) -> None:
    points = body
    if body25:  # OpenPose-18 -> BODY_25: insert mid-hip at 8 and six feet points at the end
        mid_hip = (body[8] + body[11]) / 2
        points = np.concatenate([body[:8], mid_hip[None], body[8:], np.zeros((6, 3), np.float32)])
    key = "pose_keypoints_2d" if body25 else "pose_keypoints"
    path.write_text(json.dumps({"version": 1.0, "people": [{key: points.ravel().round(3).tolist()}]}))


def build_vvt(root: Path, shared: Path, frames: int = 6, height: int = 64, width: int = 48) -> Path:
    """`lip_train_frames/<id>/*.png`, `lip_train_frames_keypoint/<id>/*_keypoints.json` (COCO-18),
    `lip_clothes_person/<id>/` (garment .jpg + person .png); garment landmarks cached, masks not."""
    ident = "4be21d0a1-n11"
    frame_dir = root / "lip_train_frames" / ident
    keypoint_dir = root / "lip_train_frames_keypoint" / ident
    clothes = root / "lip_clothes_person" / ident
    for folder in (frame_dir, keypoint_dir, clothes):
        folder.mkdir(parents=True, exist_ok=True)
    poses = standing_poses(frames, height, width)
    # frame numbers that sort wrongly as text (10 before 2): the reader must order them numerically
    for t, frame in enumerate(clip(shared, "upper1", frames, height, width)):
        name = f"{ident}@{2 * t + 2}=person"
        Image.fromarray(frame).save(frame_dir / f"{name}.png")
        _openpose_json(keypoint_dir / f"{name}_keypoints.json", poses[t], body25=False)
    cloth = _small(read_image(shared / "vivid" / "cloth" / "00057_00.jpg"), height, width)
    Image.fromarray(cloth).save(clothes / f"{ident}@10=cloth_front.jpg")
    Image.fromarray(cloth).save(clothes / f"{ident}@10=person_whole_front.png")
    cache = PreparedCache(root)
    cache.save_garment(f"lip_clothes_person/{ident}/{ident}@10=cloth_front", garment_landmarks(height, width))
    masks = [m[..., 0] > 127 for m in clip(shared, "upper1", frames, height, width, "agnostic_mask")]
    cache.save_masks(f"lip_train_frames/{ident}", np.stack(masks), is_video=True)
    return root


def build_vitonhd(root: Path, shared: Path, height: int = 64, width: int = 48) -> Path:
    """`train_pairs.txt`, `train/{image,cloth,openpose_json,agnostic-mask}/` with two pairs (BODY_25 JSON)."""
    train = root / "train"
    for sub in ("image", "cloth", "openpose_json", "agnostic-mask"):
        (train / sub).mkdir(parents=True, exist_ok=True)
    lines = []
    for name, cloth in (("upper1", "00057_00"), ("lower1", "00126_00")):
        person = clip(shared, name, 1, height, width)[0]
        mask = clip(shared, name, 1, height, width, "agnostic_mask")[0]
        Image.fromarray(person).save(train / "image" / f"{name}_00.jpg", quality=95)
        Image.fromarray(mask[..., 0]).save(train / "agnostic-mask" / f"{name}_00_mask.png")
        garment = _small(read_image(shared / "vivid" / "cloth" / f"{cloth}.jpg"), height, width)
        Image.fromarray(garment).save(train / "cloth" / f"{cloth}.jpg", quality=95)
        _openpose_json(
            train / "openpose_json" / f"{name}_00_keypoints.json", standing_poses(1, height, width)[0], body25=True
        )
        PreparedCache(root).save_garment(f"train/cloth/{cloth}", garment_landmarks(height, width))
        dpidm_mask = agnostic_masks(PoseSequence(standing_poses(1, height, width), height, width), "upper")
        PreparedCache(root).save_masks(f"train/image/{name}_00", np.stack(list(dpidm_mask)), is_video=False)
        lines.append(f"{name}_00.jpg {cloth}.jpg")
    (root / "train_pairs.txt").write_text("\n".join(lines) + "\n")
    return root
