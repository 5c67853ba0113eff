"""Agnostic-mask quality against the reference masks shipped with the sample data, and pose speed per backend.

Per clip: recall (share of the reference mask that ours covers: the old garment must not show through), IoU,
temporal stability (mean IoU of consecutive masks) set beside the reference masks' own temporal IoU and beside our
masks' with nothing cut out (`temporal_iou_uncut`: what the moving cut-outs cost), and the face:
pixels of the face box (`head.face_box`, from the head keypoints) inside our mask, summed over the frames (must be
0), and how many frames had a face box; what the frames keep (pixels a frame: what the pose-only masks take and the
masks made with the frames do not: long hair, and hands bent off their forearm's line); and the share of the
reference mask that lies in what we keep by rule (head, hands, feet: `masks.keep_region`, and what the frames
keep; of the hands' regions only what the masks leave out, the garment around a hand being taken), in all and
by part (`reference_in`: the face box, the head region, the hands' regions, the feet, what the frames keep; the
parts overlap a little): the reference masks take the chin, neck, hands, (3DV-TON's boxes) the
face, the feet and hair over the back, so recall cannot exceed 1 minus that share; `recall_outside_kept` is the
recall on the rest of the reference, reported beside the plain figure, not instead of it. Targets (issue 20): recall
>= 0.95, IoU >= 0.65, temporal IoU no worse than before, no face-box pixel. Data: $DPIDM_SHARED_DATA, else
../shared/data.

    python benchmarks/mask_quality.py                      # all clips, pose backend auto
    python benchmarks/mask_quality.py --clips vivid/upper1 --no-speed

Poses come through `video_poses` and its cache ($DPIDM_CACHE); the speed part always runs the backends afresh.
Prints one line per clip and per backend, and a last line of JSON with the means.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tryon_cli.offline import apply_offline_defaults  # noqa: E402

apply_offline_defaults()

from tryon_cli.io import read_frames  # noqa: E402
from tryon_cli.preprocess.hands import hand_regions  # noqa: E402
from tryon_cli.preprocess.head import face_box, head_region  # noqa: E402
from tryon_cli.preprocess.human_pose import dwpose_files, estimate_video_poses, load_backend, video_poses  # noqa: E402
from tryon_cli.preprocess.masks import (  # noqa: E402
    SHAPES,
    VOTE_QUORUM,
    VOTE_WINDOW,
    MaskShape,
    agnostic_masks,
    cover_region,
    keep_region,
    temporal_vote,
)

DATA = Path(os.environ.get("DPIDM_SHARED_DATA", REPO.parent / "shared" / "data"))  # as tests/conftest.py
# clip name -> (video, reference mask video, category)
CLIPS = {
    "vivid/upper1": ("vivid/videos/upper1.mp4", "vivid/agnostic_mask/upper1.mp4", "upper"),
    "vivid/lower1": ("vivid/videos/lower1.mp4", "vivid/agnostic_mask/lower1.mp4", "lower"),
    "3dvton/1046043_detail": (
        "3dvton/videos/1046043_detail.mp4",
        "3dvton/rec_agnostic_mask/1046043_detail.mp4",
        "dress",
    ),
    "3dvton/model_1": ("3dvton/videos/model_1.mp4", "3dvton/rec_agnostic_mask/model_1.mp4", "dress"),
}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def recall(ours: np.ndarray, reference: np.ndarray) -> float:
    total = reference.sum()
    return float(np.logical_and(ours, reference).sum() / total) if total else 1.0


def temporal_iou(masks: list[np.ndarray]) -> float:
    return float(np.mean([iou(a, b) for a, b in zip(masks, masks[1:])])) if len(masks) > 1 else 1.0


def share_in(references: list[np.ndarray], regions: list[np.ndarray]) -> float:
    """The mean share of each frame's reference that lies in its region (recall is a mean over frames too)."""
    return float(np.mean([(r & k).sum() / max(1, r.sum()) for r, k in zip(references, regions)]))


_NO_FEET = MaskShape(foot_radius=0.0)  # keep_region without the feet: what the feet add is the rest


def _box(box: tuple[int, int, int, int] | None, height: int, width: int) -> np.ndarray:
    region = np.zeros((height, width), bool)
    if box is not None:
        region[box[1] : box[3], box[0] : box[2]] = True
    return region


def uncut_masks(poses, category: str) -> list[np.ndarray]:
    """The masks with nothing cut out (no head, hands, feet, hair or lower garment kept): the garment's parts, voted
    over time as `agnostic_masks` votes them. Their temporal IoU is what the cut-outs, which move with the person,
    cost the masks' stability."""
    shape, height, width = SHAPES[category], poses.height, poses.width
    covers = (cover_region(pose.body, category, height, width, shape) > 0 for pose in poses)
    return list(temporal_vote(covers, VOTE_WINDOW, VOTE_QUORUM))


def measure_clip(name: str, backend: str) -> dict:
    video, reference_path, category = CLIPS[name]
    poses = video_poses(DATA / video, backend=backend)
    references = [frame.mean(axis=2) > 127 for frame in read_frames(DATA / reference_path)]
    ours = list(agnostic_masks(poses, category, frames=read_frames(DATA / video)))
    count = min(len(ours), len(references))
    ours, references = ours[:count], references[:count]
    height, width = poses.height, poses.width
    boxes = [face_box(poses[t], height, width) for t in range(count)]
    # Long hair and bent hands are kept by their colour (they need the frames): what the pose-only masks take and
    # ours do not.
    from_frames = [pose_only & ~o for pose_only, o in zip(agnostic_masks(poses, category), ours)]
    by_rule = [keep_region(poses[t], height, width) for t in range(count)]
    # What the masks keep by rule or by the frames and do not take (the garment around a hand is taken back).
    kept = [(k | h) & ~o for k, h, o in zip(by_rule, from_frames, ours)]
    parts = {
        "face_box": [_box(box, height, width) for box in boxes],
        "head": [head_region(poses[t], height, width) for t in range(count)],
        "hands": [hand_regions(poses[t], height, width) for t in range(count)],
        "feet": [k & ~keep_region(poses[t], height, width, shape=_NO_FEET) for t, k in enumerate(by_rule)],
        "from_frames": from_frames,
    }
    return {
        "clip": name,
        "category": category,
        "frames": count,
        "pose_backend": poses.backend,
        "recall": float(np.mean([recall(o, r) for o, r in zip(ours, references)])),
        "iou": float(np.mean([iou(o, r) for o, r in zip(ours, references)])),
        "temporal_iou": temporal_iou(ours),
        "reference_temporal_iou": temporal_iou(references),
        "temporal_iou_uncut": temporal_iou(uncut_masks(poses, category)[:count]),
        "reference_in_kept": share_in(references, kept),
        # Of each part, what the masks keep (the garment around a hand, in the hands' regions, is taken).
        "reference_in": {
            part: share_in(references, [r & ~o for r, o in zip(regions, ours)]) for part, regions in parts.items()
        },
        "recall_outside_kept": float(np.mean([recall(o, r & ~k) for o, r, k in zip(ours, references, kept)])),
        "kept_from_frames_pixels_per_frame": float(np.mean([h.sum() for h in from_frames])),
        "face_box_frames": sum(box is not None for box in boxes),
        "face_box_pixels_in_mask": sum(int(m[b[1] : b[3], b[0] : b[2]].sum()) for m, b in zip(ours, boxes) if b),
    }


def pose_speed(backend: str, frames: list[np.ndarray]) -> dict:
    model = load_backend(backend)
    model.detect(frames[0])  # warm-up: first-call allocations are not the steady rate
    start = time.perf_counter()
    estimate_video_poses(frames, model, fps=24.0)
    seconds = time.perf_counter() - start
    return {
        "backend": backend,
        "frames": len(frames),
        "frames_per_s": len(frames) / seconds,
        "height": frames[0].shape[0],
        "width": frames[0].shape[1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", nargs="*", default=list(CLIPS), choices=list(CLIPS))
    parser.add_argument("--pose-backend", default="auto", choices=["auto", "dwpose", "yolo"])
    parser.add_argument("--speed-frames", type=int, default=24, help="frames of vivid/upper1 timed per backend")
    parser.add_argument("--no-speed", action="store_true", help="skip the pose speed measurement")
    args = parser.parse_args()

    results = []
    for name in args.clips:
        row = measure_clip(name, args.pose_backend)
        results.append(row)
        print(json.dumps(row), flush=True)
    speeds = []
    if not args.no_speed:
        frames = list(read_frames(DATA / CLIPS["vivid/upper1"][0], stop=args.speed_frames))
        for backend in ("yolo", "dwpose") if dwpose_files() else ("yolo",):
            speeds.append(pose_speed(backend, frames))
            print(json.dumps(speeds[-1]), flush=True)

    summary = {
        "clips": len(results),
        "mean_recall": float(np.mean([r["recall"] for r in results])),
        "mean_iou": float(np.mean([r["iou"] for r in results])),
        "mean_temporal_iou": float(np.mean([r["temporal_iou"] for r in results])),
        "mean_reference_temporal_iou": float(np.mean([r["reference_temporal_iou"] for r in results])),
        "temporal_at_least_reference": all(r["temporal_iou"] >= r["reference_temporal_iou"] for r in results),
        "mean_temporal_iou_uncut": float(np.mean([r["temporal_iou_uncut"] for r in results])),
        "face_box_pixels_in_mask": sum(r["face_box_pixels_in_mask"] for r in results),
        "pose_frames_per_s": {s["backend"]: round(s["frames_per_s"], 3) for s in speeds},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
