"""`dpidm info VIDEO`: what the tool reads from a video (frame rate, exact frame count, size, rotation, audio), and
for a dpidm result the engine that made it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tryon_cli.io import probe_video

EPILOG = (
    "Examples:\n\n"
    "  dpidm info examples/person.mp4           # a table\n\n"
    "  dpidm info examples/person.mp4 --json    # machine-readable"
)


def info(
    video: Annotated[Path, typer.Argument(help="A video file (mp4, mov, webm, ...).", show_default=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the metadata as JSON.")] = False,
) -> None:
    """Show a video's metadata as dpidm reads it: fps, frame count (decoded, exact), upright size, rotation, audio."""
    meta = probe_video(video)
    if as_json:
        typer.echo(json.dumps(meta.to_dict(), indent=2))
        return
    table = Table(show_header=False)
    rows = {
        "file": str(meta.path),
        "frames per second": f"{meta.fps:.6g}"
        + (f" ({meta.frame_rate})" if meta.frame_rate.denominator > 1 else "")
        + (" (resampled: the source's frame rate varies)" if meta.variable_frame_rate else ""),
        "frames": str(meta.frame_count),
        "size (W x H)": f"{meta.width} x {meta.height}",
        "rotation applied": f"{meta.rotation} degrees clockwise" if meta.rotation else "none",
        "duration": f"{meta.duration:.3f} s",
        "video codec": meta.codec,
        "audio": "yes" if meta.has_audio else "no",
        **_made_by(meta.comment),
    }
    for name, value in rows.items():
        table.add_row(name, value)
    Console().print(table)
    for note in meta.notes:
        typer.echo(f"note: {note}")


def _made_by(comment: str) -> dict[str, str]:
    """The rows a dpidm result adds: its engine and whether the model was a test model (from its comment tag)."""
    try:
        made = json.loads(comment)
    except ValueError:
        return {"comment": comment} if comment else {}
    if not isinstance(made, dict) or "engine" not in made:
        return {"comment": comment}
    untrained = (
        " (UNTRAINED: a check of the install, not a try-on)"
        if made.get("untrained")
        else " (a test model: a check, not a try-on)"
        if made.get("test_model")
        else ""
    )
    return {"made by": str(made.get("generator", "?")), "engine": f"{made['engine']}{untrained}"}
