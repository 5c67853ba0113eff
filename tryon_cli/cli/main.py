"""The `dpidm` command: the Typer app, global flags, and the one place where known errors become one line."""

from __future__ import annotations

import traceback
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

try:  # typer >= 0.29 vendors click: its parser raises its own copy of click's UsageError
    from typer._click.exceptions import UsageError
except ImportError:
    from click.exceptions import UsageError

from tryon_cli import __version__
from tryon_cli.errors import DpidmError
from tryon_cli.offline import apply_offline_defaults

_state = {"debug": False}


class _DpidmGroup(TyperGroup):
    """Turns a DpidmError or a bad option raised by any subcommand into `error: ...` on stderr and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DpidmError as err:
            if _state["debug"]:  # the traceback too, and the same last line and exit code as without --debug
                traceback.print_exc()
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(2) from None
        except UsageError as err:  # click prints usage + a blank line + the reason: one line is enough
            where = err.ctx.command_path if err.ctx is not None else ctx.command_path
            typer.echo(f"error: {err.format_message()} (see `{where} --help`)", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    name="dpidm",
    cls=_DpidmGroup,
    help="Video virtual try-on with DPIDM (Dynamic Pose Interaction Diffusion Models, CVPR 2025).",
    epilog="Example: dpidm weights --check tryon",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    # Plain click help: Rich markup would read "[upper|lower|dress]" and "[default: 42]" as style tags and drop them.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dpidm {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        Optional[bool], typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks for errors.")] = False,
) -> None:
    _state["debug"] = debug
    apply_offline_defaults()


# Subcommands, one module each; a command is registered here once it works.
from tryon_cli.cli import demo as _demo  # noqa: E402
from tryon_cli.cli import eval as _eval  # noqa: E402
from tryon_cli.cli import info as _info  # noqa: E402
from tryon_cli.cli import mask as _mask  # noqa: E402
from tryon_cli.cli import pose as _pose  # noqa: E402
from tryon_cli.cli import train as _train  # noqa: E402
from tryon_cli.cli import tryon as _tryon  # noqa: E402
from tryon_cli.cli import weights as _weights  # noqa: E402

app.add_typer(_weights.app, name="weights")
app.command("info", epilog=_info.EPILOG)(_info.info)
app.command("tryon", epilog=_tryon.EPILOG)(_tryon.tryon)
app.add_typer(_eval.app, name="eval")
app.add_typer(_pose.app, name="pose")
app.add_typer(_train.app, name="train")
app.command("mask", epilog=_mask.EPILOG)(_mask.mask)
app.command("demo", epilog=_demo.EPILOG)(_demo.demo)


def run() -> None:
    """Console-script entry point."""
    app()
