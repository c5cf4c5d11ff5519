"""Kubeflow Pipelines components of samdops: thin wrappers over ``samdops.steps.training``.

Every component is a lightweight ``@dsl.component`` that runs in the project's own image
(``base_image``, pinned by digest for release) without installing anything at run time, so the
same component runs under kfp.local and in the cluster. Installed as ``samdops.components``.
"""
