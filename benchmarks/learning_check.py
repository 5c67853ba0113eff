"""Does DPIDM, trained by `dpidm train`, learn to paint the given garment into the masked region? (issue 21)

On a synthetic paired set (`synthetic_tryon`: moving figures, each drawn wearing each of two garments, solid red and
blue with yellow stripes, the training figures also in ten other solid colours), the tiny DPIDM is trained whole
(`train.trainable=all`: its base is random) on zero terminal SNR with v-prediction (`noise_schedule=zero_snr_v`:
on SD1.5's epsilon schedule the garment branch barely trains) for a fixed number of steps with `dpidm train`
(variant d, then variant a for comparison),
then every held-out clip (people and backgrounds never trained on) is tried on with every garment by
`dpidm tryon --checkpoint`, and the untrained tiny model (`dpidm tryon --model tiny`) does the same. Reported:

- reconstruction inside the mask against the worn target (the same clip drawn wearing that garment): L1 (pixels
  in [0, 1]) and LPIPS-alex (on the mask's bounding box, pixels outside the mask taken from the target), for each
  model and for the agnostic input (the mask region grey);
- the swap test: the mean CIELAB colour of the generated garment region (the exact region the renderer drew) is
  nearer to that of the given garment's worn target than to the other garment's, for every clip x garment pair;
- the loss of the first and last 10 % of steps of each variant;
- garment use: each trained model's loss on held-out frames with the garment the clip wears and with the other one
  (the same noise and timesteps); a model that uses the garment does worse with the other.

`passed` is true when variant d beats both the untrained model and the agnostic input on L1 (and on LPIPS when
its weights are present: `dpidm weights fetch lpips`) and passes every swap pair. The last line printed is JSON.

    python benchmarks/learning_check.py                 # the full check: about 11 minutes on 2 shared CPU cores
    python benchmarks/learning_check.py --steps 40 --train-motions 2 --test-motions 1    # a quick look

What it shows and does not: a tiny model at a toy size learning colour transfer from the garment input, not try-on
quality (see docs/training.md).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synthetic_tryon import GARMENTS, Clip, clip_id, colour_garments, write_dataset  # noqa: E402

from tryon_cli.data import scan  # noqa: E402
from tryon_cli.data.dataset import Augmentation, TryOnDataset  # noqa: E402
from tryon_cli.data.sampler import SampleKey  # noqa: E402
from tryon_cli.io import read_frames  # noqa: E402
from tryon_cli.models import DPIDM  # noqa: E402
from tryon_cli.preprocess.masks import AGNOSTIC_GREY  # noqa: E402
from tryon_cli.training.config import load_config  # noqa: E402
from tryon_cli.training.objective import diffusion_losses  # noqa: E402
from tryon_cli.weights import path_of  # noqa: E402

DPIDM_CLI = [sys.executable, "-m", "tryon_cli"]  # the dpidm command of this checkout


@dataclass(frozen=True)
class Settings:
    steps: int = 600  # optimiser steps per variant (image and video steps alternate): the budget
    # A guard: a variant's run is stopped (SIGTERM: it checkpoints) when it reaches this; None: never.
    budget_s: float | None = 300.0
    height: int = 64
    width: int = 48
    clip_length: int = 4
    learning_rate: float = 2e-3  # a random tiny model trained whole, not SD1.5 fine-tuned (the paper's 2e-5)
    trainable: str = "all"  # the tiny base is random: train both U-Nets whole (docs/training.md)
    # Zero terminal SNR and v-prediction: with SD1.5's epsilon schedule the garment branch barely trains
    # (docs/training.md, "Does it learn?"); "sd15" runs the check on that schedule.
    noise_schedule: str = "zero_snr_v"
    batch_size: int = 2
    frames: int = 8  # frames of each held-out clip tried on
    ddim_steps: int = 10
    train_motions: int = 6
    test_motions: int = 2
    variants: tuple[str, ...] = ("d", "a")
    # Training motions are also drawn in this many solid colours besides the two evaluated garments: with only two,
    # the garment's colour can be told from the noisy latent itself, so the garment input barely lowers the loss.
    extra_garments: int = 10


def _run(command: list[str], env: dict, timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run a dpidm command; with `timeout`, stop it with SIGTERM then (it checkpoints and exits)."""
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGTERM)
            out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{out[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, out)


def train(root: Path, output: Path, variant: str, s: Settings, env: dict) -> list[float]:
    """`dpidm train` of the tiny model, variant `variant`; returns the loss of every step."""
    command = [*DPIDM_CLI, "train", "--data", "vivid", "--root", str(root), "--model", "tiny", "--variant", variant]
    command += ["--max-steps", str(s.steps), "--batch-size", str(s.batch_size), "--output", str(output)]
    for key, value in {
        "data.height": s.height,
        "data.width": s.width,
        "data.clip_length": s.clip_length,
        "data.num_workers": 1,
        "data.masks": "dataset",  # the set's exact garment masks, which try-on gets with --mask
        "train.learning_rate": s.learning_rate,
        "train.trainable": s.trainable,
        "noise_schedule": s.noise_schedule,
        "logging.tensorboard": "false",
        "checkpoint.every": s.steps,
    }.items():
        command += ["--set", f"{key}={value}"]
    _run(command, env, timeout=s.budget_s)
    lines = (output / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line)["loss"] for line in lines]


def try_on(clip: Clip, garment: Path, output: Path, checkpoint: Path | None, s: Settings, env: dict) -> np.ndarray:
    """`dpidm tryon` of the first `s.frames` frames of `clip` with `garment` and the clip's mask; (T, H, W, 3)."""
    model = ["--checkpoint", str(checkpoint)] if checkpoint is not None else ["--model", "tiny"]
    command = [*DPIDM_CLI, "tryon", str(clip.video), str(garment), "-o", str(output), "--mask", str(clip.mask), *model]
    command += ["--frames", f"0:{s.frames}", "--window", str(s.frames), "--overlap", "0", "--steps", str(s.ddim_steps)]
    command += ["--height", str(s.height), "--width", str(s.width), "--device", "cpu"]
    _run(command, env)
    return np.stack(list(read_frames(output)))


def _video(path: Path, frames: int) -> np.ndarray:
    return np.stack(list(read_frames(path, 0, frames)))


def mean_lab(frames: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """The mean CIELAB colour (L in [0, 100]) of the pixels of `frames` inside `regions`."""
    lab = np.stack([cv2.cvtColor(f.astype(np.float32) / 255, cv2.COLOR_RGB2Lab) for f in frames])
    return lab[regions].mean(axis=0)


def masked_l1(result: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float:
    return float(np.abs(result.astype(np.float32) - target.astype(np.float32))[mask].mean() / 255)


class MaskedLPIPS:
    """LPIPS-alex on the mask's bounding box, the pixels outside the mask taken from the target; None without
    its weights."""

    def __init__(self):
        path = path_of("lpips-alex")
        self.net = None
        if path.is_file():
            from tryon_cli.metrics.lpips import load_lpips

            self.net = load_lpips(path, "alex")

    def __call__(self, result: np.ndarray, target: np.ndarray, mask: np.ndarray) -> float | None:
        if self.net is None:
            return None
        ys, xs = np.nonzero(mask.any(axis=0))
        box = (slice(None), slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        inside = np.where(mask[..., None], result, target)[box]

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1

        return float(self.net(tensor(inside), tensor(target[box])).mean())


def _mask(clip: Clip, frames: int) -> np.ndarray:
    return _video(clip.mask, frames).max(axis=-1) > 127


def evaluate_model(
    clips: list[Clip],
    checkpoint: Path | None,
    name: str,
    work: Path,
    s: Settings,
    env: dict,
    lpips: MaskedLPIPS | None = None,
) -> dict:
    """Every held-out motion (one source clip each) tried on with every garment: reconstruction and swap test
    (`checkpoint` None: the untrained tiny model)."""
    by_key = {(c.motion, c.garment): c for c in clips}
    motions = sorted({c.motion for c in clips if c.split == "test"})
    garments = [g.name for g in GARMENTS]
    l1, lp, swap = [], [], []
    for i, motion in enumerate(motions):
        source = by_key[(motion, garments[i % len(garments)])]  # sources alternate between the garments
        mask = _mask(source, s.frames)
        for garment in garments:
            target = by_key[(motion, garment)]
            result = try_on(
                source, target.garment_photo, work / f"{name}_{clip_id(motion, garment)}.mp4", checkpoint, s, env
            )
            worn = _video(target.video, s.frames)
            l1.append(masked_l1(result, worn, mask))
            lp.append(None if lpips is None else lpips(result, worn, mask))
            region = target.regions[: s.frames]
            generated = mean_lab(result, region)
            distances = {
                g: float(np.linalg.norm(generated - mean_lab(_video(by_key[(motion, g)].video, s.frames), region)))
                for g in garments
            }
            nearest = min(distances, key=distances.get)
            swap.append(
                {
                    "clip": source.video.stem,
                    "garment": garment,
                    "ok": nearest == garment,
                    "lab": [round(float(v), 1) for v in generated],
                    "distance_given": round(distances[garment], 1),
                    "distance_other": round(min(d for g, d in distances.items() if g != garment), 1),
                }
            )
    return {
        "l1": float(np.mean(l1)),
        "lpips": None if None in lp else float(np.mean(lp)),
        "swap": swap,
    }


def agnostic_baseline(clips: list[Clip], s: Settings, lpips: MaskedLPIPS) -> dict:
    """The agnostic input (the mask region grey) scored as if it were the result."""
    by_key = {(c.motion, c.garment): c for c in clips}
    motions = sorted({c.motion for c in clips if c.split == "test"})
    garments = [g.name for g in GARMENTS]
    l1, lp = [], []
    for i, motion in enumerate(motions):
        source = by_key[(motion, garments[i % len(garments)])]
        mask = _mask(source, s.frames)
        agnostic = _video(source.video, s.frames).copy()
        agnostic[mask] = AGNOSTIC_GREY
        for garment in garments:
            worn = _video(by_key[(motion, garment)].video, s.frames)
            l1.append(masked_l1(agnostic, worn, mask))
            lp.append(lpips(agnostic, worn, mask))
    return {"l1": float(np.mean(l1)), "lpips": None if None in lp else float(np.mean(lp))}


@torch.no_grad()
def garment_use(checkpoint: Path, root: Path, s: Settings, draws: int = 4) -> dict:
    """The training loss (image steps) on held-out frames with the garment each clip wears and with the other one,
    the same noise and timesteps for both: a model that uses the garment does worse with the other."""
    model = DPIDM.from_checkpoint(checkpoint).eval()
    entries = scan("vivid", root, "test")
    data = TryOnDataset(entries, root, s.height, s.width, Augmentation(flip_p=0.0, keypoint_drop_p=0.0), "dataset")
    by_motion: dict[str, list[int]] = {}
    for index, entry in enumerate(entries):
        by_motion.setdefault(entry.person.stem.split("_")[0], []).append(index)
    loss = load_config(overrides=["model=tiny"]).loss
    given, other = [], []
    for pair in by_motion.values():  # the motion's clips, one per garment
        for draw in range(draws):
            keys = [SampleKey(i, draw % s.frames, 1, draw, False) for i in pair]
            samples = [data[k] for k in keys]
            batch = {name: torch.stack([sample[name] for sample in samples]) for name in samples[0]}
            swapped = {**batch, "garment_pixels": batch["garment_pixels"].roll(1, 0)}
            for out, b in ((given, batch), (other, swapped)):
                out.append(
                    diffusion_losses(model, b, "image", loss, torch.Generator().manual_seed(draw))["loss"].item()
                )
    return {"given_garment": round(float(np.mean(given)), 4), "other_garment": round(float(np.mean(other)), 4)}


def _ends(losses: list[float]) -> dict:
    tenth = max(1, len(losses) // 10)
    return {
        "steps": len(losses),
        "first_10pct": round(float(np.mean(losses[:tenth])), 4),
        "last_10pct": round(float(np.mean(losses[-tenth:])), 4),
    }


def environment(work: Path) -> dict:
    """The environment of every dpidm command: this checkout's code, the set's pose cache, one torch thread."""
    repo = str(Path(__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (repo, os.environ.get("PYTHONPATH")) if p)
    # One torch thread: on a shared 2-core machine, two threads plus the loader worker oversubscribe the cores
    # (measured: 6.6 s per training step with the default threads, 0.9 s with one).
    return {**os.environ, "PYTHONPATH": path, "DPIDM_CACHE": str(work / "cache"), "OMP_NUM_THREADS": "1"}


def build_set(work: Path, s: Settings, env: dict) -> tuple[Path, list[Clip]]:
    """Render the set into work/dataset (its poses into env's pose cache) and run `dpidm train prepare` on it."""
    root = work / "dataset"
    os.environ["DPIDM_CACHE"] = env["DPIDM_CACHE"]  # the renderer writes the pose cache that try-on reads
    garments = GARMENTS + colour_garments(s.extra_garments)
    clips = write_dataset(root, s.train_motions, s.test_motions, max(s.frames, 2 * s.clip_length), garments)
    _run([*DPIDM_CLI, "train", "prepare", "--data", "vivid", "--root", str(root)], env)
    return root, clips


def learning_check(work: Path, s: Settings) -> dict:
    """Build the set, train each variant, try on, score; the report's dict (see the module docstring)."""
    env = environment(work)
    started = time.monotonic()
    root, clips = build_set(work, s, env)
    lpips = MaskedLPIPS()
    report: dict = {"settings": asdict(s), "models": {}, "loss": {}}
    for variant in s.variants:
        run = work / f"run_{variant}"
        report["loss"][variant] = _ends(train(root, run, variant, s, env))
        report["garment_use"] = {
            **report.get("garment_use", {}),
            variant: garment_use(run / "checkpoints" / "latest", root, s),
        }
        report["models"][variant] = evaluate_model(clips, run / "checkpoints" / "latest", variant, work, s, env, lpips)
    report["models"]["untrained"] = evaluate_model(clips, None, "untrained", work, s, env, lpips)
    report["agnostic"] = agnostic_baseline(clips, s, lpips)
    trained, untrained, agnostic = report["models"][s.variants[0]], report["models"]["untrained"], report["agnostic"]
    criteria = {
        "l1_beats_untrained": trained["l1"] < untrained["l1"],
        "l1_beats_agnostic": trained["l1"] < agnostic["l1"],
        "swap": all(pair["ok"] for pair in trained["swap"]),
    }
    if trained["lpips"] is not None:
        criteria["lpips_beats_untrained"] = trained["lpips"] < untrained["lpips"]
        criteria["lpips_beats_agnostic"] = trained["lpips"] < agnostic["lpips"]
    report["criteria"] = criteria
    report["swap"] = [{k: pair[k] for k in ("clip", "garment", "ok")} for pair in trained["swap"]]
    report["seconds"] = round(time.monotonic() - started, 1)
    report["passed"] = all(criteria.values())
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    defaults = Settings()
    for field in (
        "steps",
        "budget_s",
        "frames",
        "ddim_steps",
        "train_motions",
        "test_motions",
        "extra_garments",
        "noise_schedule",
    ):
        parser.add_argument(f"--{field.replace('_', '-')}", type=type(getattr(defaults, field)), default=None)
    parser.add_argument("--variants", default=",".join(defaults.variants))
    parser.add_argument("--work", type=Path, default=None, help="keep the set, runs and videos here")
    args = parser.parse_args()
    chosen = {k: v for k, v in vars(args).items() if k in Settings.__dataclass_fields__ and v is not None}
    chosen["variants"] = tuple(args.variants.split(","))
    settings = Settings(**chosen)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
        report = learning_check(args.work, settings)
    else:
        with tempfile.TemporaryDirectory() as work:
            report = learning_check(Path(work), settings)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
