"""`dpidm demo`: a local Gradio web app on the same try-on application as `dpidm tryon` (no second try-on path).

config.py  what the server was started with (limits, engines on offer, the shipped examples)
progress.py the engine seam's Progress shown on the page's progress bar
job.py     one try-on request: checks, the engine, `run_tryon`, the files handed to the page
app.py     the page and its `/tryon` API endpoint
server.py  launching it with a private temporary folder that is removed when the server stops
Only `server.py` and `app.py` import gradio; `pip install -e '.[demo]'` installs it.
"""
