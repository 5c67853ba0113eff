"""DPIDM checkpoints (the `DPIDMDelta` folder) and SD1.5-layout loading, on tiny weights saved in the real layout:
every pretrained tensor used, round trips exact and strict, `resolve_checkpoint` on every path a user has."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from safetensors.torch import load_file, save_file
from transformers import CLIPConfig, CLIPModel

from tests.test_models import NEW_MODULES, inputs, randomize_new_modules  # noqa: F401 (fixture)
from tryon_cli.errors import InputError, MissingWeightsError
from tryon_cli.models import DPIDM
from tryon_cli.models.checkpoint import CONFIG_FILE, WEIGHTS_FILE, resolve_checkpoint, restore
from tryon_cli.models.configs import TINY
from tryon_cli.models.delta import PHASES, DPIDMDelta
from tryon_cli.pipelines.dpidm_pipeline import DPIDMTryOnPipeline, VideoConditions
from tryon_cli.training.losses import diffusion_target


@pytest.fixture(scope="module")
def sd15_folder(tmp_path_factory):
    """A weights root in the real SD1.5 diffusers layout, saved from tiny diffusers / transformers models."""
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(3)
    UNet2DConditionModel(**TINY.main_unet).save_pretrained(root / "stable-diffusion-inpainting" / "unet")
    AutoencoderKL(**TINY.vae).save_pretrained(root / "stable-diffusion-inpainting" / "vae")
    UNet2DConditionModel(**TINY.garment_unet).save_pretrained(root / "stable-diffusion-v1-5" / "unet")
    # The real folder is openai/clip-vit-large-patch14: a full CLIP model (text tower too) with a CLIPConfig.
    text = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1, "num_attention_heads": 4}
    text["vocab_size"] = 49408  # CLIP's: the empty prompt is ids 49406, 49407, ...
    clip = CLIPModel(CLIPConfig(text_config=text, vision_config=TINY.image_encoder, projection_dim=32))
    clip.save_pretrained(root / "clip-vit-large-patch14")
    return root


def test_sd15_layout_loads_with_every_pretrained_weight_used(sd15_folder):
    model = DPIDM.from_pretrained(sd15_folder)
    parameters = dict(model.named_parameters())
    files = {
        "main_unet.unet": sd15_folder / "stable-diffusion-inpainting/unet/diffusion_pytorch_model.safetensors",
        "garment_unet.unet": sd15_folder / "stable-diffusion-v1-5/unet/diffusion_pytorch_model.safetensors",
        "vae": sd15_folder / "stable-diffusion-inpainting/vae/diffusion_pytorch_model.safetensors",
        "image_encoder": sd15_folder / "clip-vit-large-patch14/model.safetensors",
    }
    used = set()
    for prefix, path in files.items():
        for key, tensor in load_file(path).items():
            if key.startswith("text_model.") or key in ("text_projection.weight", "logit_scale"):
                continue  # CLIP's text tower: DPIDM encodes garment images only
            if prefix == "garment_unet.unet" and key.startswith(tuple(f"{n}." for n in model.garment_unet.unread)):
                continue  # layers after the last feature the bank reads: the garment U-Net is built without them
            name = f"{prefix}.{key}"
            assert name in parameters, f"pretrained tensor {key} of {path.parent.name} not used"
            assert torch.equal(parameters[name], tensor), name
            used.add(name)
    new = set(parameters) - used
    assert new == set(model.load_report.new_parameters)
    assert new and all(any(f".{kind}." in f".{n}" for kind in NEW_MODULES) for n in new)
    assert str(model.load_report).endswith(f"new: {len(new)} parameters (pasa_adapter, pata, pose_encoder, tsa)")


def test_garment_unet_reads_sd15s_empty_prompt_embedding(sd15_folder, inputs):
    model = DPIDM.from_pretrained(sd15_folder)
    tokens = model.delta.context.tokens
    clip = CLIPModel.from_pretrained(sd15_folder / "clip-vit-large-patch14")
    with torch.no_grad():
        expected = clip.text_model(input_ids=torch.tensor([[49406] + [49407] * 76])).last_hidden_state
    assert tokens.shape == (1, 77, 32) and torch.equal(tokens, expected)
    # The garment U-Net's features no longer depend on the CLIP image token (the main U-Net's CA still reads it).
    latents = torch.randn(2, 4, 8, 6)
    embeds = torch.randn(2, 1, 32)
    with torch.no_grad():
        assert all(
            torch.equal(a, b)
            for a, b in zip(model.garment_unet(latents, embeds).values(), model.garment_unet(latents, -embeds).values())
        )
        image = DPIDM.from_config("tiny", seed=0, garment_context="clip_image")  # the other reading
        assert not all(
            torch.equal(a, b)
            for a, b in zip(image.garment_unet(latents, embeds).values(), image.garment_unet(latents, -embeds).values())
        )


def test_missing_sd15_file_is_one_clear_error(sd15_folder, tmp_path):
    root = tmp_path / "weights"
    root.mkdir()
    for part in ("stable-diffusion-v1-5", "clip-vit-large-patch14"):  # the inpainting folder is missing
        (root / part).symlink_to(sd15_folder / part)
    with pytest.raises(MissingWeightsError, match="stable-diffusion-inpainting/unet/config.json") as err:
        DPIDM.from_pretrained(root)
    assert "\n" not in str(err.value)


def _outputs(model, inputs):
    sample, pose, garment_pixels, garment_pose = inputs
    with torch.no_grad():
        garment = model.garment_encoder.encode(garment_pixels, garment_pose)
        return model.main_unet(sample, 10, garment=garment, human_pose_maps=pose)


def test_checkpoint_round_trip_is_exact_and_strict(sd15_folder, inputs, tmp_path):
    trained = DPIDM.from_pretrained(sd15_folder, variant="c").eval()
    randomize_new_modules(trained, seed=5)
    with torch.no_grad():
        for name, p in trained.named_trainable_parameters("image").items():
            if ".attn2." in name:  # fine-tuned pretrained weights are saved too
                p.add_(0.05)
    trained.delta.save_checkpoint(tmp_path / "ckpt", train_height=64, train_width=48, clip_length=4)
    config = json.loads((tmp_path / "ckpt" / CONFIG_FILE).read_text())
    assert (config["_class_name"], config["base"], config["variant"]) == ("DPIDMDelta", "sd15", "c")
    assert (config["train_height"], config["train_width"], config["clip_length"]) == (64, 48, 4)
    assert config["dpidm_version"]
    loaded = DPIDM.from_pretrained(sd15_folder, checkpoint=tmp_path / "ckpt").eval()  # its variant wins
    assert loaded.variant == "c" and torch.equal(_outputs(trained, inputs), _outputs(loaded, inputs))
    # diffusers' own loader reads the same folder
    delta = DPIDMDelta.from_pretrained(tmp_path / "ckpt")
    for name, tensor in trained.delta.state_dict().items():
        assert torch.equal(delta.state_dict()[name], tensor), name

    fresh = DPIDM.from_pretrained(sd15_folder, variant="c")
    tensors = load_file(tmp_path / "ckpt" / WEIGHTS_FILE)
    assert set(tensors) == set(fresh.delta.state_dict())
    assert (
        len(tensors) == len(fresh.checkpoint_parameters()) + 1 and "context.tokens" in tensors
    )  # + the garment context
    dropped = dict(tensors)
    dropped.pop(next(iter(sorted(dropped))))
    dropped["blocks.unknown.weight"] = torch.zeros(1)
    save_file(dropped, str(tmp_path / "ckpt" / WEIGHTS_FILE))
    with pytest.raises(InputError, match=r"1 missing .*; 1 unexpected \(blocks.unknown.weight\)"):
        restore(fresh.delta, tmp_path / "ckpt")
    with pytest.raises(InputError, match="not a DPIDM checkpoint"):
        restore(fresh.delta, tmp_path)
    with pytest.raises(InputError, match="variant: checkpoint 'c', model 'd'"):
        restore(DPIDM.from_pretrained(sd15_folder).delta, tmp_path / "ckpt")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run folder as `dpidm train` leaves it: two tiny checkpoints and `checkpoints/latest` naming the newer."""
    root = tmp_path_factory.mktemp("run")
    model = DPIDM.from_config("tiny", seed=0, variant="b")
    for step in (2, 4):
        model.delta.save_checkpoint(root / "checkpoints" / str(step), train_height=32, train_width=24, clip_length=4)
    (root / "checkpoints" / "latest").write_text("4\n")
    return root


@pytest.mark.parametrize("where", ["checkpoints/4", "checkpoints/latest", "checkpoints", "."])
def test_resolve_checkpoint_accepts_every_path_a_user_has(run, where):
    info = resolve_checkpoint(run / where)
    assert info.folder == run / "checkpoints" / "4"
    assert (info.base, info.variant, info.config["clip_length"]) == ("tiny", "b", 4)
    assert resolve_checkpoint(run / "checkpoints" / "2").folder.name == "2"


def test_a_tiny_checkpoint_rebuilds_its_model_from_the_config_alone(run, inputs):
    model = DPIDM.from_checkpoint(run)  # no --model: base, variant and module settings from config.json
    assert (model.variant, model.delta.config.train_height) == ("b", 32)
    assert model.delta.blocks[next(iter(model.delta.blocks))].tsa is None
    with pytest.raises(InputError, match="checkpoint of the tiny model, not of sd15"):
        DPIDM.from_checkpoint(run, base="sd15")


def _broken(run, tmp_path, edit):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        (folder / name).write_bytes((run / "checkpoints" / "4" / name).read_bytes())
    edit(folder)
    return folder


def _set_config(**values):
    def edit(folder):
        config = json.loads((folder / CONFIG_FILE).read_text())
        (folder / CONFIG_FILE).write_text(json.dumps({**config, **values}))

    return edit


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda f: (f / WEIGHTS_FILE).unlink(), f"{WEIGHTS_FILE} not found"),
        (lambda f: (f / CONFIG_FILE).write_text("{not json"), "not valid JSON"),
        (lambda f: (f / CONFIG_FILE).write_text('{"format": "dpidm-checkpoint", "version": 1}'), "older dpidm"),
        (_set_config(variant="e"), "variant 'e' unknown"),
        (_set_config(base="sdxl"), "base 'sdxl' unknown"),
        (_set_config(colour="red"), "settings this dpidm does not know"),
    ],
)
def test_resolve_checkpoint_refuses_broken_checkpoints_in_one_line(run, tmp_path, edit, message):
    folder = _broken(run, tmp_path, edit)
    with pytest.raises(InputError, match=message) as err:
        resolve_checkpoint(folder)
    assert "\n" not in str(err.value)


def test_resolve_checkpoint_refuses_bad_paths_and_contradictions(run, tmp_path):
    cases = {
        tmp_path / "nowhere": "does not exist",
        run / "checkpoints" / "4" / CONFIG_FILE: "is a file",
        tmp_path: "no config.json, and no checkpoints/latest",
    }
    stale = tmp_path / "stale" / "checkpoints"
    stale.mkdir(parents=True)
    (stale / "latest").write_text("9\n")
    cases[stale.parent] = "names checkpoint '9', which is not a folder"
    for path, message in cases.items():
        with pytest.raises(InputError, match=message):
            resolve_checkpoint(path)
    with pytest.raises(InputError, match="is a checkpoint of the tiny model, not of sd15"):
        resolve_checkpoint(run, base="sd15")


def test_tiny_trained_whole_trains_and_saves_its_base(tmp_path):
    """`train.trainable=all` (`trains_base`): both phases train every main and garment U-Net parameter besides the
    paper's set, and the checkpoint brings the trained base back (a tiny checkpoint's base is otherwise rebuilt from
    its seed, which would undo that training)."""
    whole, paper = DPIDM.from_config("tiny", seed=0, trains_base=True), DPIDM.from_config("tiny", seed=0)
    unets = {id(p) for p in (*whole.main_unet.parameters(), *whole.garment_unet.parameters())}
    parts = {phase: {id(p) for p in whole.delta.named_phase_parameters(phase).values()} for phase in PHASES}
    for phase, other in (("image", "video"), ("video", "image")):  # DPIDM's modules keep their phase
        trained = {id(p) for p in whole.trainable_parameters(phase)}
        assert trained == unets - (parts[other] - parts[phase])
    named = {n for n, _ in whole.named_trainable_parameters("image").items()}
    assert named >= set(paper.named_trainable_parameters("image"))
    with torch.no_grad():
        for p in whole.checkpoint_parameters().values():
            p.add_(0.01)
    whole.delta.save_checkpoint(tmp_path / "ckpt")
    loaded = DPIDM.from_checkpoint(tmp_path / "ckpt")
    for name, tensor in whole.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    with pytest.raises(InputError, match="trains_base: checkpoint True, model False"):
        restore(paper.delta, tmp_path / "ckpt")
    (tmp_path / "ckpt" / "base.safetensors").unlink()
    with pytest.raises(InputError, match="base.safetensors not found"):
        DPIDM.from_checkpoint(tmp_path / "ckpt")


def test_checkpoint_written_before_a_setting_existed_loads_with_its_default(tmp_path):
    trained = DPIDM.from_config("tiny", seed=0)
    trained.delta.save_checkpoint(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / CONFIG_FILE).read_text())
    del config["trains_base"]  # as an older dpidm wrote it
    (tmp_path / "ckpt" / CONFIG_FILE).write_text(json.dumps(config))
    assert not DPIDM.from_checkpoint(tmp_path / "ckpt").delta.config.trains_base


def _sampled_timesteps(model) -> list[int]:
    """The timesteps `DPIDMTryOnPipeline` samples `model` at (its default scheduler, 10 steps), on a stand-in U-Net
    and a 2-frame clip of 3x2 latents."""
    seen = []
    conditions = VideoConditions(
        torch.zeros(1, 4, 2, 3, 2), torch.ones(1, 1, 2, 3, 2, dtype=torch.bool), lambda w: torch.zeros(1, 3, 2, 24, 16)
    )
    stand_in = SimpleNamespace(
        main_unet=lambda sample, t, garment, human_pose_maps: torch.zeros_like(sample[:, :4]),
        noise_scheduler=model.noise_scheduler,
        vae=model.vae,
    )
    DPIDMTryOnPipeline(stand_in)(
        conditions,
        SimpleNamespace(batch_size=1),
        steps=10,
        guidance=1.0,
        seed=0,
        windows=[slice(0, 2)],
        callback=lambda step, t, latents: seen.append(int(t)),
    )
    return seen


def test_the_noise_schedule_travels_with_the_checkpoint_into_training_and_sampling(tmp_path):
    """`noise_schedule=zero_snr_v` (a base trained from scratch, docs/training.md): the checkpoint records it, so
    the rebuilt model trains on v with no signal left at the last timestep (there the target is minus the clean
    latent: only the conditions can give it) and try-on samples from that timestep. SD1.5's epsilon schedule stays
    the default, for a checkpoint written before the setting existed too."""
    trained = DPIDM.from_config("tiny", seed=0, noise_schedule="zero_snr_v")
    trained.delta.save_checkpoint(tmp_path / "ckpt")
    loaded = DPIDM.from_checkpoint(tmp_path / "ckpt")
    assert loaded.delta.config.noise_schedule == "zero_snr_v"
    latents, noise = torch.randn(2, 4, 3, 2, generator=torch.Generator().manual_seed(0)).chunk(2)
    last = torch.tensor([999])
    target = diffusion_target(loaded.noise_scheduler, latents, noise, last)
    torch.testing.assert_close(target, -latents, atol=1e-3, rtol=0)
    assert _sampled_timesteps(loaded)[:2] == [999, 899]

    sd15 = DPIDM.from_config("tiny", seed=0)
    assert torch.equal(diffusion_target(sd15.noise_scheduler, latents, noise, last), noise)
    assert _sampled_timesteps(sd15)[:2] == [901, 801]  # SD1.5's: leading timesteps, offset 1
    sd15.delta.save_checkpoint(tmp_path / "old")
    config = json.loads((tmp_path / "old" / CONFIG_FILE).read_text())
    del config["noise_schedule"]  # as an older dpidm wrote it
    (tmp_path / "old" / CONFIG_FILE).write_text(json.dumps(config))
    assert DPIDM.from_checkpoint(tmp_path / "old").noise_scheduler.config.prediction_type == "epsilon"
