"""The image-video joint sampler of section 3.6, as a pure function of (seed, step, micro-batch, rank).

Even steps are image steps: B clips picked at random, one random frame from each. Odd steps are video steps:
another B clips, T consecutive frames from each. An image-only dataset (VITON-HD) has image steps only.
Because a batch depends on nothing but its step number, the data position of a run is its step: resuming at step
k draws exactly the batches an uninterrupted run would, whatever the number of loader workers. Each rank draws
its own batch (ranks sample independently, as if with replacement across the world).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from tryon_cli.errors import InputError

IMAGE, VIDEO = "image", "video"


@dataclass(frozen=True)
class SampleKey:
    """Everything that decides one sample, so that loading it is deterministic."""

    entry: int
    start: int
    length: int
    seed: int
    """Seeds the sample's augmentations (flip, keypoint drop)."""
    drop_garment: bool
    """Garment-condition dropout for classifier-free guidance."""


class JointSampler:
    def __init__(
        self,
        frame_counts: Sequence[int],
        batch_size: int,
        clip_length: int,
        seed: int,
        garment_dropout: float = 0.0,
        video_steps: bool = True,
        rank: int = 0,
    ):
        self.frame_counts = list(frame_counts)
        self.batch_size = batch_size
        self.clip_length = clip_length
        self.seed = seed
        self.garment_dropout = garment_dropout
        self.rank = rank
        self.long_enough = [i for i, n in enumerate(self.frame_counts) if n >= clip_length]
        self.video_steps = video_steps
        if video_steps and not self.long_enough:
            raise InputError(
                f"no clip has the {clip_length} frames a video step needs (longest: {max(self.frame_counts)})"
            )

    def phase(self, step: int) -> str:
        return VIDEO if self.video_steps and step % 2 == 1 else IMAGE

    def batch(self, step: int, micro: int = 0) -> list[SampleKey]:
        rng = np.random.default_rng([self.seed, step, micro, self.rank])
        video = self.phase(step) == VIDEO
        pool = self.long_enough if video else range(len(self.frame_counts))
        picks = rng.choice(len(pool), self.batch_size, replace=len(pool) < self.batch_size)
        keys = []
        for pick in picks:
            entry = pool[int(pick)]
            length = self.clip_length if video else 1
            start = int(rng.integers(0, self.frame_counts[entry] - length + 1))
            keys.append(
                SampleKey(entry, start, length, int(rng.integers(2**31)), bool(rng.random() < self.garment_dropout))
            )
        return keys

    def batches(self, first_step: int, last_step: int, accumulation: int = 1) -> Iterator[list[SampleKey]]:
        """The micro-batches of steps first_step .. last_step - 1, in training order (a DataLoader batch_sampler)."""
        for step in range(first_step, last_step):
            for micro in range(accumulation):
                yield self.batch(step, micro)
