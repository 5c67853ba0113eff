"""Many video/garment pairs in one run: a pairs file, resumable outputs, and a split across processes.

A pairs file holds one pair per line, `VIDEO GARMENT [CATEGORY]`, separated by whitespace; blank lines and lines
starting with `#` are skipped; relative paths are relative to the pairs file. Pair i writes
`OUT/<video stem>__<garment stem>.mp4`. Outputs are written atomically, so an output that exists is complete:
a killed run resumes by skipping them.

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


def pending(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(still to do, already done) — an output on disk is complete because outputs are written atomically."""
    done = [p for p in pairs if p.output.is_file()]
    return [p for p in pairs if not p.output.is_file()], done
