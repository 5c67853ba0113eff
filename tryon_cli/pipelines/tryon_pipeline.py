"""`DPIDMTryOnPipeline`: a person video and a garment photo in, a try-on video out (paper section 3.6).

One way through, streaming wherever pixels are involved, so memory stays flat on long videos:

1. Human pose of every frame (cached by preprocess) -> a crop box per frame around the person at the model's
   3:4 aspect (`framing.crop_boxes`).
2. Stream the frames: agnostic mask for the garment's category (or the user's mask video), crop, grey out the
   masked region, VAE-encode in chunks. Kept for the whole video: the agnostic latents, the mask at latent size,
   the crop-space pose maps (uint8) and the full-resolution masks (bit-packed) for paste-back.
3. Garment: landmarks, garment pose map, then `model.encode_garment` ONCE: the CLIP embedding and the garment
   U-Net's feature bank serve every window and every step.
4. DDIM with classifier-free guidance (the unconditional pass drops the garment conditions). Steps outer,
   windows inner, one latent tensor for the whole video: at every step the noise predictions of overlapping
   windows are averaged frame by frame (`sliding_window`).
5. Stream the frames again: VAE-decode the latents in chunks, paste each generated crop back into its original
   full-resolution frame inside the feathered mask only, write the mp4 at the source fps with the source audio.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import ExitStack, closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch
from einops import rearrange

from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.io import VideoWriter, atomic_output, open_video, read_image
from tryon_cli.io.writer import mux_audio
from tryon_cli.models.main_unet import inpainting_input
from tryon_cli.pipelines import compositing, framing
from tryon_cli.pipelines.progress import Stages
from tryon_cli.pipelines.runtime import select_attention
from tryon_cli.pipelines.sampling import ddim_sample, guided_noise
from tryon_cli.pipelines.sliding_window import blend_windows, frame_weights, window_schedule
from tryon_cli.preprocess.garment_fit import GarmentFit, fit_garment
from tryon_cli.preprocess.keypoints import FramePose
from tryon_cli.preprocess.masks import AGNOSTIC_GREY
from tryon_cli.preprocess.pose_maps import render_garment_pose, render_human_pose
from tryon_cli.weights import path_of

# Frames per VAE call and per streamed chunk: bounds the pixels held at once.
CHUNK = 8
# Paste-back feather in output pixels, relative to the frame's short side (6 px on 832x624).
FEATHER_FRACTION = 0.01


@dataclass
class TryOnOutput:
    """What a call produced: the video, and the side files asked for."""

    video: Path
    frame_count: int
    fps: float
    width: int
    height: int
    untrained: bool
    preview: Path | None = None
    intermediates: Path | None = None


@dataclass
class VideoConditions:
    """Everything the denoiser needs about the person video, at model and latent size, for all N frames."""

    agnostic_latents: torch.Tensor  # (1, 4, N, h, w)
    mask_latents: torch.Tensor  # (1, 1, N, h, w), 1 = repaint
    pose_maps: np.ndarray  # (N, H, W, 3) uint8 human pose maps in crop space
    packed_masks: list[np.ndarray]  # full-resolution repaint masks, np.packbits per frame
    boxes: np.ndarray  # (N, 4) crop boxes in frame pixels


class DPIDMTryOnPipeline:
    """The DPIDM inference pipeline. Build it with `from_pretrained` (a trained checkpoint) or `tiny` (random).

    >>> pipe = DPIDMTryOnPipeline.tiny(seed=0)
    >>> pipe("person.mp4", "shirt.jpg", "out.mp4", steps=4, height=128, width=96)
    """

    def __init__(self, model, *, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                 untrained: bool = False, description: str = "DPIDM", weights_root: Path | None = None):
        self.model = model.to(device=device, dtype=dtype).eval()
        self.device = torch.device(device)
        self.dtype = dtype
        self.untrained = untrained
        self.description = description
        self.weights_root = weights_root  # where the optional preprocess weights (garment landmarks) are looked up

    # -- building -----------------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, checkpoint: Path | None = None, *, weights_root: Path | None = None,
                        device: str = "cpu", dtype: torch.dtype = torch.float32, attention: str = "auto"):
        """A trained DPIDM; MissingWeightsError (one line: what is missing, how to get it) without one."""
        from tryon_cli.models.dpidm import DPIDM

        checkpoint = Path(checkpoint) if checkpoint is not None else _default_checkpoint(weights_root)
        # DPIDM.from_pretrained alone would give freshly initialised DPIDM modules; inference needs trained ones.
        if not checkpoint.exists():
            raise MissingWeightsError(
                f"no trained DPIDM checkpoint: {checkpoint} not found; train one with "
                "`dpidm train` and pass its OUT/checkpoints/<step> folder with --checkpoint (or copy it to "
                f"{_default_checkpoint(weights_root)}); to check the install without one, use --model tiny"
            )
        model = DPIDM.from_pretrained(weights_root, checkpoint=checkpoint, dtype=dtype)
        select_attention(model, attention, torch.device(device))
        return cls(model, device=device, dtype=dtype, description=f"DPIDM checkpoint {checkpoint}",
                   weights_root=weights_root)

    @classmethod
    def tiny(cls, seed: int = 0, *, checkpoint: Path | None = None, device: str = "cpu",
             dtype: torch.dtype = torch.float32, attention: str = "auto"):
        """A tiny DPIDM whose frozen base is randomly initialised from `seed`: checks an install end to end (its
        output is noise-like). With `checkpoint` (a `dpidm train --model tiny` checkpoint folder), the weights
        trained there are loaded over it; training builds its frozen base with `TINY_BASE_SEED`, so pass that then."""
        from tryon_cli.models.dpidm import DPIDM

        model = DPIDM.from_config("tiny", seed=seed)
        if checkpoint is not None:
            model.load_checkpoint(checkpoint)
        select_attention(model, attention, torch.device(device))
        if checkpoint is None:
            description = f"tiny DPIDM, UNTRAINED (random weights, seed {seed})"
        else:
            description = f"tiny DPIDM checkpoint {checkpoint} (frozen base: random weights, seed {seed})"
        return cls(model, device=device, dtype=dtype, untrained=checkpoint is None, description=description)

    # -- the call -----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        video: str | Path,
        garment: str | Path,
        output: str | Path,
        *,
        category: str = "upper",
        mask: str | Path | None = None,
        frames: tuple[int, int | None] | None = None,
        steps: int = 30,
        guidance: float = 1.5,
        seed: int = 0,
        window: int | None = 24,
        overlap: int = 8,
        weighting: str = "flat",
        height: int = 512,
        width: int = 384,
        preview: bool = False,
        keep_intermediates: bool = False,
        stages: Stages | None = None,
    ) -> TryOnOutput:
        """Dress the person of `video` in `garment` and write the result to `output` (mp4, atomically).

        `frames=(start, stop)` limits the work to those frames; `window=None` denoises the whole video at once;
        `mask` is a video whose white pixels are the region to repaint, used instead of the automatic mask.
        """
        stages = stages or Stages(enabled=False)
        video, garment, output = Path(video), Path(garment), Path(output)
        factor = 2 ** (len(self.model.vae.config.block_out_channels) - 1)
        if height % factor or width % factor:
            raise InputError(f"--height/--width must be multiples of {factor}, got {height}x{width}")
        if steps < 1:
            raise InputError(f"--steps must be at least 1, got {steps}")

        with open_video(video) as reader:
            meta = reader.meta
            start, stop = _frame_range(frames, meta.frame_count)
            num_frames = stop - start
            windows = window_schedule(num_frames, window, overlap)

            poses = self._human_pose(reader, start, stop, stages)
            # Crops join the person's boxes over half a window each side (see `framing`).
            boxes = framing.crop_boxes(poses.body, meta.width, meta.height, height, width,
                                       radius=(windows[0].stop - windows[0].start) // 2)
            intermediates = None
            if keep_intermediates:
                intermediates = output.with_name(output.stem + "_intermediates")
                intermediates.mkdir(parents=True, exist_ok=True)
            conditions = self._encode_video(reader, start, stop, poses, boxes, category, mask, height, width,
                                            intermediates, meta.fps, stages)
            garment_photo = read_image(garment)
            fit = fit_garment(*garment_photo.shape[:2], height, width)
            garment_image = fit.image(garment_photo)
            garment_conditions = self._encode_garment(garment_photo, garment_image, fit, category, guidance != 1.0,
                                                      stages)
            latents = self.denoise(conditions, garment_conditions, steps=steps, guidance=guidance, seed=seed,
                                   windows=windows, weighting=weighting, stages=stages)
            preview_path = output.with_name(output.stem + ".preview.mp4") if preview else None
            self._decode_and_write(reader, start, stop, latents, conditions, output, preview_path, garment_image,
                                   meta, stages, self._run_comment(category, steps, guidance, seed, window, overlap))
        return TryOnOutput(video=output, frame_count=num_frames, fps=meta.fps, width=meta.width, height=meta.height,
                           untrained=self.untrained, preview=preview_path, intermediates=intermediates)

    # -- stages -------------------------------------------------------------------------------------------------

    def _human_pose(self, reader, start: int, stop: int, stages: Stages):
        """The main person's pose in frames start..stop, sliced from the whole video's poses.

        Choice: the whole video is posed (and cached by its content), so that a frame gets the same pose whatever
        `--frames` range is asked for, and a second run on the same video (another garment, seed or range)
        skips pose estimation.
        """
        from tryon_cli.preprocess.human_pose import video_poses

        meta = reader.meta
        device = "cuda" if self.device.type == "cuda" else "cpu"
        with stages.task("pose frames", total=meta.frame_count) as advance:
            poses = video_poses(meta.path, device=device, progress=lambda t: advance())
        for note in poses.notes:
            stages.progress.console.print(f"note: {note}")
        return poses.slice(start, stop)

    def _frame_masks(self, reader, start, stop, poses, category, mask_video) -> Iterator[np.ndarray]:
        """The full-resolution repaint mask of each frame: the user's mask video, or the agnostic mask."""
        meta = reader.meta
        if mask_video is not None:
            with open_video(mask_video) as masks:
                if masks.meta.frame_count < stop:
                    raise InputError(f"mask video {mask_video} has {masks.meta.frame_count} frames, the video "
                                     f"needs {stop}")
                for frame in masks.frames(start, stop):
                    gray = frame.max(axis=2)
                    if gray.shape != (meta.height, meta.width):
                        gray = cv2.resize(gray, (meta.width, meta.height), interpolation=cv2.INTER_NEAREST)
                    yield gray > 127
            return
        from tryon_cli.preprocess.masks import agnostic_masks

        yield from agnostic_masks(poses, category)

    def _encode_video(self, reader, start, stop, poses, boxes, category, mask_video, height, width, intermediates,
                      fps, stages) -> VideoConditions:
        num_frames = stop - start
        latents, mask_latents, pose_maps, packed = [], [], np.zeros((num_frames, height, width, 3), np.uint8), []
        factor = 2 ** (len(self.model.vae.config.block_out_channels) - 1)
        with ExitStack() as writers, stages.task("agnostic frames", total=num_frames) as advance:
            # Intermediates: what the model saw (pose maps and agnostic crops at model size), and the repaint mask
            # at full size in the format --mask reads, so it can be edited and fed back.
            side = {}
            if intermediates is not None:
                for name in ("pose", "mask", "agnostic"):
                    side[name] = writers.enter_context(VideoWriter(intermediates / f"{name}.mp4", fps))
            chunk: list[np.ndarray] = []
            # Readers are closed here, not left to the garbage collector: closing one stops its ffmpeg, and an
            # interrupt (Ctrl-C, SIGTERM) that arrives then must reach the caller, not vanish in a finaliser.
            masks = self._frame_masks(reader, start, stop, poses, category, mask_video)
            masks = writers.enter_context(closing(masks))
            frames = writers.enter_context(closing(reader.frames(start, stop)))
            for t, (frame, mask) in enumerate(zip(frames, masks)):
                packed.append(np.packbits(mask))
                crop_mask = compositing.crop(mask, boxes[t], height, width, nearest=True)
                agnostic = compositing.crop(frame, boxes[t], height, width)
                agnostic[crop_mask] = AGNOSTIC_GREY
                pose_maps[t] = _render_pose_in_crop(poses[t], boxes[t], height, width)
                mask_latents.append(cv2.resize(crop_mask.astype(np.float32), (width // factor, height // factor),
                                               interpolation=cv2.INTER_AREA))
                chunk.append(agnostic)
                if intermediates is not None:
                    side["pose"].write(pose_maps[t])
                    side["mask"].write(np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2))
                    side["agnostic"].write(agnostic)
                if len(chunk) == CHUNK or t == num_frames - 1:
                    pixels = _to_model_pixels(np.stack(chunk), self.device, self.dtype)
                    latents.append(self.model.encode_latents(pixels).float())
                    chunk = []
                advance()
        mask_tensor = torch.from_numpy(np.stack(mask_latents))[None, None].to(self.device)
        return VideoConditions(
            agnostic_latents=torch.cat(latents, dim=2),
            mask_latents=(mask_tensor > 0.5).float(),
            pose_maps=pose_maps,
            packed_masks=packed,
            boxes=boxes,
        )

    def _encode_garment(self, photo: np.ndarray, image: np.ndarray, fit: GarmentFit, category: str, guided: bool,
                        stages: Stages):
        """The garment conditions, ONE garment U-Net run: [dropped; real] when guided, else the real ones alone."""
        from tryon_cli.preprocess.garment_landmarks import detect_garment_landmarks

        with stages.task("garment", total=2) as advance:
            model_path = path_of("garment-landmarks", self.weights_root)
            device = "cuda" if self.device.type == "cuda" else "cpu"
            landmarks, notes = detect_garment_landmarks(photo, category, model_path, device=device)
            for note in notes:
                stages.progress.console.print(f"note: {note}")
            landmarks = replace(landmarks, points=fit.points(landmarks.points), height=fit.out_height,
                                width=fit.out_width)
            advance()
            pose_map = render_garment_pose(landmarks, fit.out_height, fit.out_width)
            # float32 in: the model casts to each part's dtype after its own resizing (CLIP's antialiased bicubic
            # resize has no bf16 kernel on the CPU).
            pixels = _to_model_pixels(image[None], self.device, torch.float32)[:, :, 0]
            pose = _to_unit(pose_map[None], self.device, torch.float32)[:, :, 0]
            encode = self.model.encode_garment_for_guidance if guided else self.model.encode_garment
            conditions = encode(pixels, pose)
            advance()
        return conditions

    def denoise(self, conditions: VideoConditions, garment, *, steps: int, guidance: float, seed: int,
                windows: list[slice], weighting: str = "flat", stages: Stages | None = None) -> torch.Tensor:
        """DDIM from seeded noise to the video's latents (1, 4, N, h, w); sliding windows averaged at every step."""
        stages = stages or Stages(enabled=False)
        num_frames = conditions.agnostic_latents.shape[2]
        weights = frame_weights(num_frames, windows, weighting)  # type: ignore[arg-type]
        description = f"denoising ({len(windows)} windows x {steps} steps)"
        with stages.task(description, total=steps * len(windows)) as advance:
            def predict(latents: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                def window_prediction(window: slice) -> torch.Tensor:
                    sample = inpainting_input(latents[:, :, window], conditions.mask_latents[:, :, window],
                                              conditions.agnostic_latents[:, :, window]).to(self.dtype)
                    pose = _to_unit(conditions.pose_maps[window], self.device, self.dtype)
                    # `garment` holds [dropped garment; garment] when guided (see `_encode_garment`).
                    noise = guided_noise(self.model.main_unet, sample, t, garment, pose, guidance)
                    advance()
                    return noise

                return blend_windows(window_prediction, latents, windows, weights)

            return ddim_sample(self.model.noise_scheduler.config, conditions.agnostic_latents.shape, steps=steps,
                               seed=seed, device=self.device, predict=predict)

    def _decode_and_write(self, reader, start, stop, latents, conditions, output, preview_path, garment_image, meta,
                          stages, comment: str) -> None:
        num_frames = stop - start
        feather = max(1, round(FEATHER_FRACTION * min(meta.width, meta.height)))
        height, width = conditions.pose_maps.shape[1:3]
        covered = np.ones((height, width), np.float32)
        with atomic_output(output) as final, tempfile.TemporaryDirectory(prefix="dpidm-") as scratch_dir:
            # The encoder writes a scratch file; the last step adds the audio and the run's metadata.
            scratch = Path(scratch_dir) / "video.mp4"
            with ExitStack() as writers, stages.task("decoding + writing", total=num_frames) as advance:
                writer = writers.enter_context(VideoWriter(scratch, meta.fps))
                preview = writers.enter_context(VideoWriter(preview_path, meta.fps)) if preview_path else None
                frames = writers.enter_context(closing(reader.frames(start, stop)))
                for first in range(0, num_frames, CHUNK):
                    decoded = self.model.decode_latents(latents[:, :, first:first + CHUNK].to(self.dtype))
                    for offset, crop_out in enumerate(_to_uint8(decoded)):
                        t = first + offset
                        frame = next(frames)
                        size = frame.shape[:2]
                        mask = np.unpackbits(conditions.packed_masks[t], count=size[0] * size[1]).reshape(size)
                        box = conditions.boxes[t]
                        # Only inside the feathered mask, and only where the crop reaches (not its grey padding).
                        alpha = compositing.feather_alpha(mask.astype(bool), feather)
                        alpha *= compositing.uncrop(covered, box, *size) > 0.999
                        result = compositing.paste(frame, compositing.uncrop(crop_out, box, *size), alpha)
                        writer.write(result)
                        if preview is not None:
                            preview.write(np.concatenate([compositing.crop(frame, box, height, width), garment_image,
                                                          compositing.crop(result, box, height, width)], axis=1))
                        advance()
            mux_audio(scratch, meta.path, final, num_frames / meta.fps, start / meta.fps, {"comment": comment})

    # -- helpers ------------------------------------------------------------------------------------------------

    def _run_comment(self, category, steps, guidance, seed, window, overlap) -> str:
        return json.dumps({"generator": "dpidm tryon", "model": self.description, "untrained": self.untrained,
                           "category": category, "steps": steps, "guidance": guidance, "seed": seed,
                           "window": window, "overlap": overlap})


def _default_checkpoint(weights_root: Path | None) -> Path:
    return path_of("dpidm", weights_root)


def _frame_range(frames: tuple[int, int | None] | None, frame_count: int) -> tuple[int, int]:
    start, stop = frames or (0, None)
    stop = frame_count if stop is None else stop
    if not 0 <= start < stop <= frame_count:
        raise InputError(f"--frames {start}:{stop} is outside the video's {frame_count} frames")
    return start, stop


def _render_pose_in_crop(pose: FramePose, box: np.ndarray, height: int, width: int) -> np.ndarray:
    """The human pose map of one frame, drawn in the crop's pixels."""
    matrix = compositing.crop_matrix(box, height, width)

    def move(points):
        if points is None:
            return None
        out = points.copy()
        out[..., :2] = points[..., :2] @ matrix[:, :2].T + matrix[:, 2]
        out[points[..., 2] <= 0] = 0
        return out

    return render_human_pose(FramePose(move(pose.body), move(pose.hands), move(pose.face)), height, width)


def _to_model_pixels(frames: np.ndarray, device, dtype) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) in [-1, 1]."""
    return _to_unit(frames, device, dtype) * 2 - 1


def _to_uint8(pixels: torch.Tensor) -> np.ndarray:
    """(1, 3, T, H, W) in [-1, 1] -> (T, H, W, 3) uint8."""
    pixels = ((pixels.float().clamp(-1, 1) + 1) * 127.5).round().byte()
    return rearrange(pixels, "1 c t h w -> t h w c").cpu().numpy()


def _to_unit(frames: np.ndarray, device, dtype) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (1, 3, T, H, W) in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(frames)).to(device)
    return rearrange(tensor, "t h w c -> 1 c t h w").to(dtype) / 255
