"""The demo page and its `/tryon` API endpoint (Gradio Blocks), on `job.run_job`."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from tryon_cli.demo.config import DPIDM, DemoConfig, example_rows
from tryon_cli.demo.job import INTERMEDIATES, EngineCache, Request, public_message, run_job
from tryon_cli.demo.progress import PageProgress
from tryon_cli.errors import DpidmError
from tryon_cli.preprocess.masks import CATEGORIES

HEIGHT = 300  # px of the input and side videos; the result gets twice that

INTRO = (
    "# dpidm: video virtual try-on\n"
    "Upload a person video and a garment photo (or click an example), then **Try on**. "
    "The same application as `dpidm tryon`; one job runs at a time, others wait in the queue."
)


def build_app(config: DemoConfig, jobs_root: Path) -> gr.Blocks:
    """The page; `jobs_root` is where each job's working folder is made (and removed when the job ends)."""
    engines = EngineCache(config)
    offered = config.engines()
    with gr.Blocks(title="dpidm demo", delete_cache=(3600, 3600), analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                with gr.Row():
                    video = gr.Video(label="Person video", sources=["upload"], height=HEIGHT, elem_id="video")
                    garment = gr.Image(
                        label="Garment photo", type="filepath", sources=["upload"], height=HEIGHT, elem_id="garment"
                    )
                # Rendered below the examples, which fill it in too.
                category = gr.Radio(list(CATEGORIES), value="upper", label="Garment category", render=False)
                rows = example_rows()
                if rows:
                    gr.Examples(
                        rows,
                        inputs=[video, garment, category],
                        label="Shipped examples (click one, then Try on)",
                        example_labels=[f"{Path(v).stem} + {Path(g).stem}" for v, g, _ in rows],
                    )
                category.render()
                engine = gr.Radio(
                    offered,
                    value=offered[-1],
                    label="Engine",  # DPIDM when offered, as `--model auto`
                    info="warp: weights-free garment warping; dpidm: the trained DPIDM checkpoint",
                )
                with gr.Row():
                    first_frame = gr.Number(0, precision=0, minimum=0, label="First frame")
                    end_frame = gr.Number(
                        0, precision=0, minimum=0, label="End frame (exclusive; 0 = to the end)", elem_id="end-frame"
                    )
                with gr.Accordion("DPIDM sampling (dpidm and the install check)", open=DPIDM in offered):
                    with gr.Row():
                        steps = gr.Number(0, precision=0, minimum=0, label="DDIM steps (0 = the model's default)")
                        guidance = gr.Number(1.5, minimum=1.0, label="Guidance scale (1 = off)")
                        seed = gr.Number(0, precision=0, label="Seed")
                    install_check = gr.Checkbox(
                        False,
                        label="Install check: the tiny UNTRAINED model instead "
                        "(checks the install; its output is not a try-on)",
                    )
                with gr.Row():
                    preview = gr.Checkbox(True, label="Preview strip (input | garment | output)")
                    intermediates = gr.Checkbox(True, label="Intermediates (pose, mask, agnostic)")
                run = gr.Button("Try on", variant="primary", elem_id="run")
            with gr.Column():
                with gr.Tab("Result"):
                    result = gr.Video(label="Result", interactive=False, height=2 * HEIGHT, elem_id="result")
                    status = gr.Textbox(label="Status", interactive=False, elem_id="status")
                    download = gr.File(label="Download the mp4", interactive=False)
                with gr.Tab("Preview strip"):
                    strip = gr.Video(label="Input | garment | output", interactive=False, height=HEIGHT)
                with gr.Tab("Intermediates"):
                    sides = [gr.Video(label=name, interactive=False, height=HEIGHT) for name in INTERMEDIATES]

        # The parameters' defaults, for the API too, are the components' initial values above.
        def tryon(
            video,
            garment,
            category,
            engine,
            first_frame,
            end_frame,
            steps,
            guidance,
            seed,
            install_check,
            preview,
            intermediates,
            progress=gr.Progress(),
        ):
            request = Request(
                video=Path(video) if video else None,
                garment=Path(garment) if garment else None,
                category=category,
                engine=engine,
                install_check=bool(install_check),
                steps=int(steps) if steps else None,
                guidance=float(guidance),
                seed=int(seed or 0),
                first_frame=int(first_frame or 0),
                end_frame=int(end_frame) if end_frame else None,
                preview=bool(preview),
                intermediates=bool(intermediates),
            )
            try:
                done = run_job(
                    request,
                    config,
                    engines,
                    PageProgress(progress),
                    jobs_root,
                    keep=result.move_resource_to_block_cache,
                )
            except DpidmError as err:
                # The CLI's one line, in the page (and as the API's error); the traceback is not the user's business.
                raise gr.Error(f"error: {public_message(str(err), request)}", print_exception=False) from None
            return (
                done.video,
                done.status,
                done.video,
                done.preview,
                *(done.intermediates.get(name) for name in INTERMEDIATES),
            )

        run.click(
            tryon,
            inputs=[
                video,
                garment,
                category,
                engine,
                first_frame,
                end_frame,
                steps,
                guidance,
                seed,
                install_check,
                preview,
                intermediates,
            ],
            outputs=[result, status, download, strip, *sides],
            api_name="tryon",
            concurrency_limit=1,
            concurrency_id="tryon",
        )
    return demo
