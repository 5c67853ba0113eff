"""The sliding-window schedule, its per-frame weights, and the pipeline's sampler (window averaging, any diffusers
scheduler, the per-step callback) against the textbook loop (no model)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

from tryon_cli.errors import SettingError
from tryon_cli.pipelines.dpidm_pipeline import DPIDMTryOnPipeline, VideoConditions
from tryon_cli.pipelines.sliding_window import frame_weights, window_schedule

CASES = [
    (1, 24, 8),
    (23, 24, 8),
    (24, 24, 8),
    (25, 24, 8),
    (48, 24, 8),
    (100, 24, 8),
    (97, 16, 4),
    (50, 7, 0),
    (9, 2, 1),
]


@pytest.mark.parametrize("num_frames,window,overlap", CASES)
@pytest.mark.parametrize("kind", ["flat", "pyramid"])
def test_every_frame_covered_and_weights_sum_to_one(num_frames, window, overlap, kind):
    windows = window_schedule(num_frames, window, overlap)
    covered = np.zeros(num_frames, dtype=int)
    for w in windows:
        assert 0 <= w.start < w.stop <= num_frames
        # Every window has the model's full length unless the whole video is shorter.
        assert w.stop - w.start == min(window, num_frames)
        covered[w] += 1
    assert covered.min() >= 1
    total = np.zeros(num_frames)
    for w, weight in zip(windows, frame_weights(num_frames, windows, kind)):
        assert weight.shape == (w.stop - w.start,) and np.all(weight > 0)
        total[w] += weight
    np.testing.assert_allclose(total, 1.0, rtol=0, atol=1e-12)


def test_schedule_exact_values():
    assert window_schedule(48, 24, 8) == [slice(0, 24), slice(16, 40), slice(24, 48)]
    assert window_schedule(40, 24, 8) == [slice(0, 24), slice(16, 40)]
    assert window_schedule(10, 24, 8) == [slice(0, 10)]
    assert window_schedule(10, None, 0) == [slice(0, 10)]
    # Consecutive windows overlap by at least `overlap` frames, so no seam is generated without shared context.
    windows = window_schedule(100, 24, 8)
    assert all(b.start <= a.stop - 8 for a, b in zip(windows, windows[1:]))


def test_pyramid_weights_favour_window_centres():
    windows = window_schedule(40, 24, 8)
    first, second = frame_weights(40, windows, "pyramid")
    # Frame 16 is the second window's first frame but deep inside the first window.
    assert first[16] > second[0]
    # Frame 23 is the first window's last frame: the second window dominates.
    assert second[23 - 16] > first[23]


@pytest.mark.parametrize("bad, setting", [((10, 4, 4), "overlap"), ((10, 4, -1), "overlap"), ((10, 0, 0), "window")])
def test_invalid_schedules_are_refused_naming_the_setting(bad, setting):
    with pytest.raises(SettingError) as err:
        window_schedule(*bad)
    assert err.value.setting == setting
    with pytest.raises(ValueError, match="at least one frame"):
        window_schedule(0, 4, 1)


class FakeUNet:
    """A noise prediction that depends on the frame and on its place in the window, so windows disagree."""

    def __call__(self, sample, t, garment, human_pose_maps):
        place = torch.arange(sample.shape[2], dtype=torch.float32).view(1, 1, -1, 1, 1)
        return torch.sin(sample[:, :4] * 3 + sample[:, 4:5]) + 0.01 * place + t.float() / 1000


def fake_model():
    from diffusers import DDIMScheduler

    return SimpleNamespace(
        main_unet=FakeUNet(),
        noise_scheduler=DDIMScheduler(),
        vae=SimpleNamespace(config=SimpleNamespace(block_out_channels=[1, 2, 3, 4])),
    )


def _fresh(scheduler_class):
    return scheduler_class.from_config(DDIMScheduler().config)  # the same noise schedule, the class's own steps


def reference_sample(model, conditions, steps, seed, windows, weights, scheduler_class=DDIMScheduler):
    """The textbook loop: every window's prediction averaged into a whole-clip buffer, then one scheduler step."""
    scheduler = _fresh(scheduler_class)
    scheduler.set_timesteps(steps)
    shape = conditions.agnostic_latents.shape
    latents = torch.randn(shape, generator=torch.Generator().manual_seed(seed)) * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        out = torch.zeros(shape)
        for window, weight in zip(windows, weights):
            sample = torch.cat(
                [
                    latents[:, :, window],
                    conditions.mask_latents[:, :, window].float(),
                    conditions.agnostic_latents[:, :, window],
                ],
                dim=1,
            )
            w = torch.as_tensor(weight, dtype=torch.float32).view(1, 1, -1, 1, 1)
            out[:, :, window] += model.main_unet(sample, t, None, None) * w
        latents = scheduler.step(out, t, latents).prev_sample
    return latents


def _conditions(num_frames: int) -> VideoConditions:
    generator = torch.Generator().manual_seed(1)
    return VideoConditions(
        torch.randn(1, 4, num_frames, 3, 2, generator=generator),
        torch.rand(1, 1, num_frames, 3, 2, generator=generator) > 0.5,
        lambda w: torch.zeros(1, 3, w.stop - w.start, 24, 16),
    )


@pytest.mark.parametrize("num_frames,window,overlap", [(37, 8, 3), (25, 24, 8), (9, 2, 1), (5, 24, 8)])
@pytest.mark.parametrize("kind", ["flat", "pyramid"])
@pytest.mark.parametrize("scheduler_class", [DDIMScheduler, DPMSolverMultistepScheduler])
def test_windowed_sampler_equals_the_textbook_loop_bit_for_bit(num_frames, window, overlap, kind, scheduler_class):
    # A multistep scheduler (DPM-Solver++, order 2) keeps the previous prediction of the whole clip: stepping it
    # per window or per run of frames would mix frames' histories and advance its step counter too often.
    conditions, model = _conditions(num_frames), fake_model()
    windows = window_schedule(num_frames, window, overlap)
    weights = frame_weights(num_frames, windows, kind)
    garment = SimpleNamespace(batch_size=1)
    got = DPIDMTryOnPipeline(model)(
        conditions,
        garment,
        steps=4,
        guidance=1.0,
        seed=3,
        windows=windows,
        weighting=kind,
        scheduler=_fresh(scheduler_class),
    )
    expected = reference_sample(model, conditions, 4, 3, windows, weights, scheduler_class)
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_one_window_with_dpm_solver_equals_the_schedulers_own_loop():
    """With one window covering the clip, the pipeline with DPMSolverMultistepScheduler is the loop of the
    scheduler's documentation: scale_model_input, predict, step, for each of its timesteps."""
    num_frames, steps = 6, 5
    conditions, model = _conditions(num_frames), fake_model()
    scheduler = _fresh(DPMSolverMultistepScheduler)
    scheduler.set_timesteps(steps)
    latents = torch.randn(conditions.agnostic_latents.shape, generator=torch.Generator().manual_seed(3))
    latents = latents * scheduler.init_noise_sigma
    for t in scheduler.timesteps:
        model_input = scheduler.scale_model_input(latents, t)
        unet_input = torch.cat([model_input, conditions.mask_latents.float(), conditions.agnostic_latents], dim=1)
        latents = scheduler.step(model.main_unet(unet_input, t, None, None), t, latents).prev_sample

    steps_seen = []
    got = DPIDMTryOnPipeline(model)(
        conditions,
        SimpleNamespace(batch_size=1),
        steps=steps,
        guidance=1.0,
        seed=3,
        windows=[slice(0, num_frames)],
        scheduler=_fresh(DPMSolverMultistepScheduler),
        callback=lambda step, t, now: steps_seen.append((step, int(t), now.clone())),
    )
    torch.testing.assert_close(got, latents, rtol=0, atol=0)
    assert [(step, t) for step, t, _ in steps_seen] == list(enumerate(scheduler.timesteps.tolist()))
    assert torch.equal(steps_seen[-1][2], got)  # the callback sees the latents after its step
