"""The pipeline steps: one procedure per step, called by the components, the CLI and tests."""
