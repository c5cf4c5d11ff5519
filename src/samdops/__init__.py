"""samdops: MLOps for clinical machine-learning models shipped as Software as a Medical Device.

The package is imported by every pipeline step, so this module stays free of heavy imports;
import the submodule you need (``samdops.training.ingest``, ``samdops.training.train`` ...).
"""

__version__ = "0.1.0"
