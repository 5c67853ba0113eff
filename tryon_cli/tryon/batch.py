"""Many video/garment pairs in one run: a pairs file, resumable outputs, and a split across processes.

A pairs file holds one pair per line, `VIDEO GARMENT [CATEGORY]`, separated by whitespace; blank lines and lines
starting with `#` are skipped; relative paths are relative to the pairs file. Pair i writes
`OUT/<video stem>__<garment stem>.mp4`. A pair's outputs (its video, and its preview and intermediates when asked
for) appear together when all are complete, so a killed run resumes by skipping the pairs whose outputs are all
there; the others are done again, replacing what an older run left of them.

Under `accelerate launch`, `accelerate.PartialState.split_between_processes` gives each process a contiguous share
of the full list. The split is made before looking at the disk, so every process computes the same split
whatever the others have finished meanwhile, and no pair is done twice.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from tryon_cli.errors import InputError
from tryon_cli.preprocess.masks import CATEGORIES
from tryon_cli.tryon.request import side_paths
from tryon_cli.tryon.settings import TryOnSettings


@dataclass(frozen=True)
class Pair:
    video: Path
    garment: Path
    category: str | None
    output: Path


def read_pairs(pairs_file: Path, output_dir: Path) -> list[Pair]:
    """The pairs of `pairs_file`, each with its output path under `output_dir`; InputError on a bad line."""
    if not pairs_file.is_file():
        raise InputError(f"pairs file not found: {pairs_file}")
    base = pairs_file.resolve().parent
    pairs: list[Pair] = []
    seen: dict[Path, int] = {}
    for number, line in enumerate(pairs_file.read_text().splitlines(), 1):
        fields = shlex.split(line, comments=True)
        if not fields:
            continue
        if len(fields) not in (2, 3) or (len(fields) == 3 and fields[2] not in CATEGORIES):
            raise InputError(
                f"{pairs_file}:{number}: expected 'VIDEO GARMENT [upper|lower|dress]', got {line.strip()!r}"
            )
        video, garment = (base / Path(f) for f in fields[:2])
        output = output_dir / f"{video.stem}__{garment.stem}.mp4"
        if output in seen:
            raise InputError(f"{pairs_file}:{number}: same output {output.name} as line {seen[output]}")
        seen[output] = number
        pairs.append(Pair(video, garment, fields[2] if len(fields) == 3 else None, output))
    if not pairs:
        raise InputError(f"pairs file has no pairs: {pairs_file}")
    return pairs


def my_share(pairs: list[Pair]) -> list[Pair]:
    """This process's pairs under `accelerate launch` (all of them in a plain run)."""
    from accelerate import PartialState

    with PartialState().split_between_processes(pairs) as share:
        return list(share)


def outputs_of(pair: Pair, settings: TryOnSettings) -> list[Path]:
    """Every path a pair's run writes: its video, and its preview and intermediates when asked for."""
    return [pair.output, *(p for p in side_paths(pair.output, settings.preview, settings.keep_intermediates) if p)]


def pending(pairs: list[Pair], settings: TryOnSettings) -> tuple[list[Pair], list[Pair]]:
    """(still to do, already done): a pair is done when every output it is asked for is there (a run writes them
    together, `tryon.writing`; one made without --preview is not done when --preview is asked for now)."""
    done = [p for p in pairs if all(path.exists() for path in outputs_of(p, settings))]
    return [p for p in pairs if p not in done], done
