"""Video and image input/output: streaming reads with exact metadata, atomic H.264 writes, robust image reading."""

from tryon_cli.io.atomic import OutputGroup, atomic_output, atomic_outputs
from tryon_cli.io.images import (
    GARMENT_MAX_SIDE,
    is_still_image,
    list_frame_folder,
    read_frame_folder,
    read_garment_photo,
    read_image,
)
from tryon_cli.io.inputs import check_companion_video, check_person_video
from tryon_cli.io.outputs import check_output, refuse_existing
from tryon_cli.io.video import VideoMeta, VideoReader, open_video, probe_video, read_frames
from tryon_cli.io.writer import VideoWriter, mux_audio, write_video

__all__ = [
    "GARMENT_MAX_SIDE",
    "OutputGroup",
    "VideoMeta",
    "VideoReader",
    "VideoWriter",
    "atomic_output",
    "atomic_outputs",
    "check_companion_video",
    "check_output",
    "check_person_video",
    "is_still_image",
    "list_frame_folder",
    "mux_audio",
    "open_video",
    "probe_video",
    "read_frame_folder",
    "read_frames",
    "read_garment_photo",
    "read_image",
    "refuse_existing",
    "write_video",
]
