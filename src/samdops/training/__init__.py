"""Training: ingest, data contract, split, fit, evaluation, metrics and model files."""
