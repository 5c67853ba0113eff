"""The gallery: a fixed list of person clips x garment photos run through `dpidm tryon --model warp`, one contact
sheet and one JSON line per case, so that a change to the warp engine is judged on what a shopper would see and on
numbers that see harm, not on the warping error alone.

Cases are split into those the engine may be tuned on (T: look at them as often as you like while changing it) and
those that are only checked (C: run and look, never tune a constant on them), plus refusals (R: garment photos
that must end in one `error:` line, exit 2, before the video is decoded). Paths are in ../shared/data
($DPIDM_SHARED_DATA), except `examples/` (the repo's own); a case whose files are absent is skipped with a line.

Per dressed case, a sheet OUT/<case>.png: a header with the case and its figures, then three rows at 10%, 50% and
90% of the frames run: the garment photo and the source frames; the output frames; the changed pixels (red) over
the grey source, with the face box (yellow) and the grown reference mask's outline (green). The try-on itself
stays at OUT/<case>.mp4. Per case, one JSON line (printed and appended to OUT/gallery.jsonl):
- `outside_mask_changed_max` / `_mean`: pixels changed by more than `CHANGED_LEVELS` (any channel) outside the
  dataset's reference mask grown by `MASK_GROWTH` of the frame height, as a fraction of that outside area; worst
  frame and mean (only where the dataset has a reference mask for the clip);
- `face_changed_max` / `_mean`: the same fraction inside the face box (`face_box`) of the frames that have one,
  and `face_frames`, how many do;
- `warp_error_ratio`: the project's warping error (`tryon_cli.metrics.warp_error`), output / source (1: no flicker
  added);
- `seconds`: wall time of the `dpidm tryon` run (pose from the cache when a previous run filled it).
Refusal cases record the exit status, the `error:` line, the number of stderr lines and the seconds to the message.

    python benchmarks/gallery.py --out /tmp/gallery                 # every case, a few minutes on 2 cores
    python benchmarks/gallery.py --cases T1,C3 --out /tmp/gallery   # some
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = Path(os.environ.get("DPIDM_SHARED_DATA", REPO.parent / "shared" / "data"))  # as tests/conftest.py

CHANGED_LEVELS = 16  # a pixel changed by more than this (0-255, any channel) is changed; h264 noise stays below it
MASK_GROWTH = 0.04  # the reference mask grown by this share of the frame height: its edge is approximate
MOMENTS = (0.1, 0.5, 0.9)  # the sheet's three moments, as shares of the frames run
TILE_HEIGHT = 384  # pixels of each frame on the sheet
MIN_BOX = 4  # pixels each way: a box cut to a sliver by the frame's edge (or a side view's shoulders) is no box


@dataclass(frozen=True)
class Case:
    name: str
    video: str
    garment: str
    category: str
    frames: tuple[int, int] | None = None
    reference_mask: str | None = None
    what: str = ""
    refusal: str | None = None  # for a refusal case: a word its error line must hold


# The lead's fixed list. Tuned on: T1-T7. Only checked (never tune constants on them): C1-C13. Refused: R1-R3.
# T1 and C11 are the shipped examples, byte-identical to ViViD's upper1 and lower1, so they use ViViD's masks too.
TUNED = (
    Case(
        "T1",
        "examples/person.mp4",
        "examples/garment_upper_00057_00.jpg",
        "upper",
        reference_mask="vivid/agnostic_mask/upper1.mp4",
        what="the shipped example",
    ),
    Case(
        "T2",
        "vivid/videos/upper1.mp4",
        "vivid/cloth/00126_00.jpg",
        "upper",
        reference_mask="vivid/agnostic_mask/upper1.mp4",
        what="ViViD upper1, another tee",
    ),
    Case(
        "T3",
        "3dvton/videos/1046043_detail.mp4",
        "3dvton/cloths/1046602_in_xl.jpg",
        "dress",
        frames=(0, 48),
        reference_mask="3dvton/rec_agnostic_mask/1046043_detail.mp4",
        what="3DV-TON dress clip",
    ),
    Case(
        "T4",
        "wild/videos/fashionchameleon_case1.mp4",
        "wild/garments/upper/saleor-polo-shirt-front.png",
        "upper",
        what="RGBA polo, face at the top edge",
    ),
    Case(
        "T5",
        "wild/videos/fashionchameleon_case3.mp4",
        "wild/garments/upper/omnitry_hoodie.jpg",
        "upper",
        what="low-contrast hoodie, turns to the back",
    ),
    Case(
        "T6",
        "wild/videos/animatex_dance_1.mp4",
        "wild/garments/upper/catvtonflux_00064_00.jpg",
        "upper",
        what="black lace long sleeves on a dancer, arms overhead",
    ),
    Case(
        "T7",
        "wild/videos/mmaction2_two_people.mp4",
        "wild/garments/upper/saleor-dark-polygon-tee-front.png",
        "upper",
        what="two people",
    ),
)
CHECKED = (
    Case(
        "C1",
        "vivid/videos/lower1.mp4",
        "vivid/cloth/051990_1.jpg",
        "lower",
        reference_mask="vivid/agnostic_mask/lower1.mp4",
        what="ViViD lower1",
    ),
    Case(
        "C2",
        "3dvton/videos/model_1.mp4",
        "3dvton/cloths/744396420989_origin_20240116174720.png",
        "dress",
        reference_mask="3dvton/rec_agnostic_mask/model_1.mp4",
        what="3DV-TON model_1, back view",
    ),
    Case(
        "C3",
        "musepose/dance.mp4",
        "vivid/cloth/00057_00.jpg",
        "upper",
        frames=(0, 96),
        what="1080x1920 dancer, red skirt below",
    ),
    Case(
        "C4",
        "wild/videos/fashionchameleon_case2.mp4",
        "wild/garments/upper/imagdressing_1.jpg",
        "upper",
        what="white on light grey, bag strap, back view",
    ),
    Case(
        "C5",
        "wild/videos/fashionchameleon_case4.mp4",
        "wild/garments/dress/fashionchameleon_case4_white_dress.png",
        "dress",
        what="white dress, arm raised",
    ),
    Case(
        "C6",
        "wild/videos/vid2densepose_dancer.mp4",
        "wild/garments/upper/ominicontrol_tshirt.jpg",
        "upper",
        frames=(0, 96),
        what="head at the top edge, cluttered room",
    ),
    Case(
        "C7",
        "wild/videos/sam2_juggle.mp4",
        "wild/garments/upper/saleor-white-hoodie.png",
        "upper",
        what="landscape, brown skin, white RGBA hoodie",
    ),
    Case(
        "C8",
        "wild/videos/mmhuman3d_basketball.mp4",
        "wild/garments/upper/catvtonflux_00034_00.jpg",
        "upper",
        what="sleeveless over long sleeves, hard shadows",
    ),
    Case(
        "C9",
        "wild/videos/animatex_source_video.mp4",
        "wild/garments/upper/dreamo_shirt.png",
        "upper",
        what="white on white, hands crossing the chest",
    ),
    Case(
        "C10",
        "wild/videos/latentsync_demo2_hevc.mp4",
        "wild/garments/upper/fashn_black_tee_on_model.webp",
        "upper",
        frames=(0, 96),
        what="HEVC, garment photographed worn",
    ),
    Case(
        "C11",
        "examples/person_lower.mp4",
        "examples/garment_lower_051985_1.jpg",
        "lower",
        reference_mask="vivid/agnostic_mask/lower1.mp4",
        what="the shipped lower example",
    ),
    # C7 and C10 end in their garments' refusals: their clips dressed in garments that fit.
    Case(
        "C12",
        "wild/videos/sam2_juggle.mp4",
        "examples/garment_upper_00057_00.jpg",
        "upper",
        frames=(0, 150),
        what="landscape, dark skin, a ball in front of the chest",
    ),
    Case(
        "C13",
        "wild/videos/latentsync_demo2_hevc.mp4",
        "wild/garments/upper/saleor-polo-shirt-front.png",
        "upper",
        frames=(0, 48),
        what="HEVC 1080x1920, hands clasped in front, RGBA polo",
    ),
    Case(
        "C14",
        "wild/videos/vid2densepose_dancer.mp4",
        "wild/garments/upper/omnitry_hoodie.jpg",
        "upper",
        frames=(0, 96),
        what="T5's hoodie, sleeves laid down in the photo, on a dancer",
    ),
)
REFUSED = (
    Case(
        "R1",
        "vivid/videos/upper1.mp4",
        "wild/garments/lower/omnitry_shorts_on_model.jpg",
        "upper",
        what="shorts given as an upper garment",
        refusal="--category lower",
    ),
    Case(
        "R2",
        "vivid/videos/upper1.mp4",
        "wild/garments/outfit/dreamfit_flatlay_outfit.jpg",
        "upper",
        what="a flat-lay of several garments",
        refusal="error:",
    ),
    Case(
        "R3",
        "vivid/videos/upper1.mp4",
        "wild/garments/outfit/fashionchameleon_case2_top_and_skirt.png",
        "upper",
        what="a top and a skirt in one photo",
        refusal="error:",
    ),
)
CASES = {case.name: case for case in TUNED + CHECKED + REFUSED}


def resolve(path: str) -> Path:
    return REPO / path if path.startswith("examples/") else DATA / path


def run_tryon_command(case: Case, output: Path) -> tuple[subprocess.CompletedProcess, float]:
    """`dpidm tryon` as a user runs it, with the warp engine; its result and wall seconds."""
    command = [sys.executable, "-m", "tryon_cli", "tryon", str(resolve(case.video)), str(resolve(case.garment))]
    command += ["-o", str(output), "--model", "warp", "--category", case.category, "--overwrite"]
    if case.frames is not None:
        command += ["--frames", f"{case.frames[0]}:{case.frames[1]}"]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    return done, time.perf_counter() - start


def face_box(body: np.ndarray, height: int, width: int) -> tuple[int, int, int, int] | None:
    """The face box of the warp engine (`engines.warp.body.face_box`: the face and the hair beside it, from the
    head keypoints), which it never draws over; at least `MIN_BOX` pixels each way."""
    from tryon_cli.engines.warp.body import face_box as engine_face_box

    return engine_face_box(body, height, width, MIN_BOX)


def changed_pixels(source: np.ndarray, output: np.ndarray) -> np.ndarray:
    """(H, W) bool: the output differs from the source by more than `CHANGED_LEVELS` in some channel."""
    return (np.abs(output.astype(np.int16) - source.astype(np.int16)).max(axis=2)) > CHANGED_LEVELS


def grown_mask(frame: np.ndarray) -> np.ndarray:
    """A reference mask frame (white = the garment region) grown by `MASK_GROWTH` of the frame height."""
    radius = max(1, round(MASK_GROWTH * frame.shape[0]))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate((frame.mean(axis=2) > 127).astype(np.uint8), kernel).astype(bool)


def measure(case: Case, output: Path) -> tuple[dict, list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """The case's figures from the source, the output and the reference mask, streamed once; and the sheet's
    (source, output, changed-pixel picture) at the `MOMENTS`."""
    from tryon_cli.io import probe_video, read_frames
    from tryon_cli.metrics.warp_error import warp_error
    from tryon_cli.preprocess.human_pose import video_poses

    video = resolve(case.video)
    start, stop = case.frames or (0, probe_video(video).frame_count)
    poses = video_poses(video, frames=(start, stop))  # from the cache the try-on filled
    count = stop - start
    picks = {min(count - 1, round(share * (count - 1))) for share in MOMENTS}
    reference = resolve(case.reference_mask) if case.reference_mask else None
    masks = read_frames(reference, start, stop) if reference and reference.is_file() else itertools.repeat(None)
    outside, face, shots = [], [], []

    def frames():
        for t, (source, result, mask) in enumerate(zip(read_frames(video, start, stop), read_frames(output), masks)):
            changed = changed_pixels(source, result)
            grown = grown_mask(mask) if mask is not None else None
            if grown is not None:
                outside.append(float(changed[~grown].mean()) if (~grown).any() else 0.0)
            box = face_box(poses.body[t], *source.shape[:2])
            if box is not None:
                x0, y0, x1, y1 = box
                face.append(float(changed[y0:y1, x0:x1].mean()))
            if t in picks:
                shots.append((source, result, _changes_picture(source, changed, box, grown)))
            yield source, result

    source_stream, result_stream = itertools.tee(frames())
    score = warp_error((result for _, result in result_stream), (source for source, _ in source_stream))
    figures = {
        "frames": f"{start}:{stop}",
        "outside_mask_changed_max": _round(max(outside)) if outside else None,
        "outside_mask_changed_mean": _round(float(np.mean(outside))) if outside else None,
        "face_changed_max": _round(max(face)) if face else None,
        "face_changed_mean": _round(float(np.mean(face))) if face else None,
        "face_frames": len(face),
        "warp_error_ratio": round(score.ratio, 2),
    }
    return figures, shots


def _round(value: float) -> float:
    return round(value, 5)


def _changes_picture(source, changed, box, grown) -> np.ndarray:
    """The changed pixels in red over the grey source; the face box in yellow, the grown mask's outline in green."""
    grey = cv2.cvtColor(cv2.cvtColor(source, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB) // 2
    picture = np.where(changed[..., None], np.array([255, 0, 0], np.uint8), grey)
    thickness = max(2, source.shape[0] // 300)
    if grown is not None:
        contours, _ = cv2.findContours(grown.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(picture, contours, -1, (0, 255, 0), thickness)
    if box is not None:
        cv2.rectangle(picture, box[:2], (box[2] - 1, box[3] - 1), (255, 255, 0), thickness)
    return picture


def _tile(image: np.ndarray, height: int) -> np.ndarray:
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def contact_sheet(case: Case, garment: np.ndarray, shots, line: dict, height: int = TILE_HEIGHT) -> np.ndarray:
    """Header; garment | source x3; (figures) | output x3; (legend) | changes x3."""
    garment_tile = _tile(garment, height)
    if garment_tile.shape[1] > height:  # a wide photo is shown at the tile's height at most
        garment_tile = _tile(garment, round(height * height / garment_tile.shape[1]))
    side = np.full((height, max(garment_tile.shape[1], height * 3 // 4), 3), 255, np.uint8)
    first = side.copy()
    first[: garment_tile.shape[0], : garment_tile.shape[1]] = garment_tile
    rows = []
    for label, index in (("source", 0), ("output", 1), ("changed > 16", 2)):
        left = first if index == 0 else side.copy()
        if index == 0:
            _text(left, [label], height - 10, size=0.5)
        else:
            _text(left, [label], 24, size=0.6)
        if index == 1:
            _text(left, _figure_lines(line), 54, size=0.45)
        if index == 2:
            _text(left, ["red: changed", "yellow: face box", "green: ref. mask", "  grown 4%"], 54, size=0.45)
        rows.append(np.concatenate([left] + [_tile(shot[index], height) for shot in shots], axis=1))
    sheet = np.concatenate(rows, axis=0)
    header = np.full((56, sheet.shape[1], 3), 255, np.uint8)
    kind = "tuned on" if case in TUNED else "check only" if case in CHECKED else "must be refused"
    _text(
        header,
        [f"{case.name} ({kind}): {case.what}", f"{case.video} + {case.garment} --category {case.category}"],
        22,
        size=0.55,
    )
    return np.concatenate([header, sheet], axis=0)


def _figure_lines(line: dict) -> list[str]:
    def pct(value):
        return "n/a" if value is None else f"{100 * value:.2f}%"

    return [
        f"frames {line['frames']}",
        "outside mask max",
        f"  {pct(line['outside_mask_changed_max'])} mean {pct(line['outside_mask_changed_mean'])}",
        f"face max {pct(line['face_changed_max'])}",
        f"  mean {pct(line['face_changed_mean'])} ({line['face_frames']} fr)",
        f"warp error x{line['warp_error_ratio']}",
        f"{line['seconds']} s",
    ]


def _text(image: np.ndarray, lines: list[str], y: int, size: float) -> None:
    step = round(44 * size) + 4
    for i, text in enumerate(lines):
        cv2.putText(image, text, (6, y + i * step), cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 1, cv2.LINE_AA)


def run_case(case: Case, out: Path) -> dict:
    """Run one case; write its sheet (or, refused, nothing) and return its JSON line."""
    from tryon_cli.io import read_image

    missing = [path for path in (case.video, case.garment) if not resolve(path).is_file()]
    if missing:
        return {"case": case.name, "skipped": f"not found: {', '.join(missing)}"}
    line = {"case": case.name, "set": "tuned" if case in TUNED else "checked" if case in CHECKED else "refusal"}
    output = out / f"{case.name}.mp4"
    done, seconds = run_tryon_command(case, output)
    errors = [row for row in done.stderr.splitlines() if row.startswith("error:")]
    line.update(exit=done.returncode, seconds=round(seconds, 1))
    if done.returncode != 0:
        stderr = done.stderr.strip().splitlines()
        line.update(error=errors[0] if errors else (stderr or [""])[-1], stderr_lines=len(stderr))
        if case.refusal:
            line["refused_as_asked"] = done.returncode == 2 and len(errors) == 1 and case.refusal in errors[0]
        return line
    if case.refusal:
        line["refused_as_asked"] = False
    figures, shots = measure(case, output)
    line.update(figures)
    sheet = contact_sheet(case, read_image(resolve(case.garment)), shots, line)
    cv2.imwrite(str(out / f"{case.name}.png"), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", help=f"comma-separated, of {','.join(CASES)} (default: all)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "dpidm-gallery")
    args = parser.parse_args()
    names = args.cases.split(",") if args.cases else list(CASES)
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"unknown case {', '.join(unknown)}; choose from {', '.join(CASES)}")
    if not DATA.is_dir():
        print(f"sample data not found at {DATA} (set DPIDM_SHARED_DATA); only the examples' cases run")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "gallery.jsonl", "a") as log:
        for name in names:
            line = run_case(CASES[name], args.out)
            print(json.dumps(line), flush=True)
            log.write(json.dumps(line) + "\n")
            log.flush()
    print(f"sheets and videos in {args.out}")


if __name__ == "__main__":
    main()
