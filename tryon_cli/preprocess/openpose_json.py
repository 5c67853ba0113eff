"""OpenPose's JSON files, one per frame: what `dpidm pose` writes (reading them: `tryon_cli.data.annotations`).

A file is `{"version": 1.3, "people": [person, ...]}` where each person has `person_id` and the flat
(x, y, confidence) lists `pose_keypoints_2d` (18 points, COCO-18 model, 54 numbers), `face_keypoints_2d` (70
points: the 68 face points and the two pupils), `hand_left_keypoints_2d` and `hand_right_keypoints_2d` (21 each),
and the `*_3d` lists, empty for 2-D estimation. OpenPose writes every key and leaves a list empty when that part
was not estimated; so does dpidm. A frame without a person has `"people": []`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tryon_cli.preprocess.keypoints import BODY_INDEX, FramePose, PoseSequence

OPENPOSE_VERSION = 1.3
PERSON_KEYS = (
    "person_id",
    "pose_keypoints_2d",
    "face_keypoints_2d",
    "hand_left_keypoints_2d",
    "hand_right_keypoints_2d",
    "pose_keypoints_3d",
    "face_keypoints_3d",
    "hand_left_keypoints_3d",
    "hand_right_keypoints_3d",
)


def _flat(points: np.ndarray) -> list[float]:
    return [round(float(v), 3) for v in np.asarray(points, dtype=np.float64).reshape(-1)]


def frame_to_openpose(pose: FramePose) -> dict:
    """One frame as an OpenPose JSON document (people is empty when no body point was found)."""
    if not pose.found:
        return {"version": OPENPOSE_VERSION, "people": []}
    person = {key: [] for key in PERSON_KEYS}
    person["person_id"] = [-1]
    person["pose_keypoints_2d"] = _flat(pose.body)
    if pose.face is not None:
        # OpenPose's face model has 70 points: the 68 landmarks, then the right and left pupils (the eyes here).
        pupils = pose.body[[BODY_INDEX["r_eye"], BODY_INDEX["l_eye"]]]
        person["face_keypoints_2d"] = _flat(np.concatenate([pose.face, pupils]))
    if pose.hands is not None:
        person["hand_left_keypoints_2d"] = _flat(pose.hands[0])
        person["hand_right_keypoints_2d"] = _flat(pose.hands[1])
    return {"version": OPENPOSE_VERSION, "people": [person]}


def frame_filename(stem: str, index: int) -> str:
    """OpenPose's naming: `<stem>_000000000012_keypoints.json`."""
    return f"{stem}_{index:012d}_keypoints.json"


def write_openpose_files(poses: PoseSequence, folder: Path, stem: str) -> None:
    """Write one JSON per frame into `folder` (the temporary folder of an `atomic_outputs` group: the caller makes
    it appear complete, with the run's other outputs, or not at all)."""
    for index, pose in enumerate(poses):
        (folder / frame_filename(stem, index)).write_text(json.dumps(frame_to_openpose(pose)))
