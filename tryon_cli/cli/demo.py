"""`dpidm demo`: the local web app (Gradio) on the same try-on application as `dpidm tryon`."""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from tryon_cli.cli.options import Device, Dtype, WeightsRoot
from tryon_cli.errors import DpidmError, InputError

EPILOG = (
    "Examples:\n\n"
    "  dpidm demo           # http://127.0.0.1:7860: the warp engine, and DPIDM when weights/dpidm/ holds one\n\n"
    "  dpidm demo --checkpoint runs/vivid/checkpoints/80000 --device cuda --dtype bf16\n\n"
    "  dpidm demo --host 0.0.0.0 --port 8080 --max-frames 480   # reachable from other machines\n\n"
    "Scripts call it with gradio_client: Client('http://127.0.0.1:7860').predict(handle_file('person.mp4'), "
    "handle_file('shirt.jpg'), api_name='/tryon'). Needs the demo extra: pip install -e '.[demo]'."
)


def check_port_free(host: str, port: int) -> None:
    """InputError naming the port and --port when nothing can listen on `host`:`port` (another server has it)."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise InputError(f"--host {host}: not an address of this machine ({err.strerror})") from None
    family, kind, proto, _, address = addresses[0]
    with socket.socket(family, kind, proto) as probe:
        # As the server will: a port left in TIME_WAIT by a stopped server can be taken again at once.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise InputError(
                f"port {port} on {host} is in use or not allowed ({err.strerror}); choose another with --port"
            ) from None


def demo(
    host: Annotated[str, typer.Option("--host", help="Address to bind (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 7860,
    share: Annotated[
        bool, typer.Option("--share", help="Also open a public gradio.live link (off unless asked).")
    ] = False,
    checkpoint: Annotated[
        Optional[Path],
        typer.Option(
            "--checkpoint",
            help="A DPIDM checkpoint to offer as the dpidm engine; default weights/dpidm/ when it holds one.",
        ),
    ] = None,
    weights: WeightsRoot = None,
    device: Device = "auto",
    dtype: Dtype = "fp32",
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", help="Largest upload accepted, per file.")] = 50,
    max_frames: Annotated[int, typer.Option("--max-frames", help="Longest video accepted, in frames.")] = 240,
    queue_size: Annotated[int, typer.Option("--queue-size", help="Jobs that may wait; one runs at a time.")] = 16,
) -> None:
    """Serve the try-on web demo: upload a person video and a garment photo, watch the progress, get the mp4."""
    # Looked up, not imported: gradio fixes its temporary folder when imported, and `serve` chooses that folder.
    if importlib.util.find_spec("gradio") is None:
        raise DpidmError("the web demo needs gradio: pip install -e '.[demo]'")
    if checkpoint is not None and not checkpoint.exists():
        raise InputError(f"checkpoint not found: {checkpoint}")
    check_port_free(host, port)  # before gradio (seconds to import), whose own error is a 55-line traceback
    from tryon_cli.cli.options import resolve_device
    from tryon_cli.demo.config import DemoConfig
    from tryon_cli.demo.server import serve

    config = DemoConfig(
        host=host,
        port=port,
        share=share,
        checkpoint=checkpoint,
        weights_root=weights,
        device=resolve_device(device),
        dtype=dtype,
        max_upload_mb=max_upload_mb,
        max_frames=max_frames,
        queue_size=queue_size,
    )
    serve(config)
    # The server is closed and its files are removed: skip the interpreter's teardown of torch and gradio, which
    # took 10-15 s here after every Ctrl-C.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
