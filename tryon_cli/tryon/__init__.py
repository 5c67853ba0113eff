"""The video application of `dpidm tryon`: everything about the video around an engine (see `application.py`).

Light on purpose: `conditioning` is imported by the training data code, so nothing heavy is imported here.
"""
