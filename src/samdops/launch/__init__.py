"""Launching pipelines: deterministic compilation and runs through kfp.local."""
