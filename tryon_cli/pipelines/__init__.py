"""Inference pipelines: the DPIDM try-on pipeline and its sliding-window schedule."""
