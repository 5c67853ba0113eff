"""Preprocessing that users never do by hand: human pose, garment landmarks, pose maps and agnostic masks.

Modules: `keypoints` (layouts and data types), `human_pose` (backends and per-video estimation with a cache),
`tracking` (main subject, gap filling, One-Euro filter), `pose_maps` (skeleton images), `garment_landmarks`,
`masks` (agnostic masks and the ViViD layout), `head` and `hands` (the regions no mask takes), `openpose_json`
(reading and writing OpenPose files).
"""

from tryon_cli.preprocess.human_pose import estimate_video_poses, load_backend, video_poses
from tryon_cli.preprocess.keypoints import BODY_NAMES, FramePose, GarmentLandmarks, PoseSequence
from tryon_cli.preprocess.pose_maps import render_garment_pose, render_human_pose

__all__ = [
    "BODY_NAMES",
    "FramePose",
    "GarmentLandmarks",
    "PoseSequence",
    "estimate_video_poses",
    "load_backend",
    "render_garment_pose",
    "render_human_pose",
    "video_poses",
]
