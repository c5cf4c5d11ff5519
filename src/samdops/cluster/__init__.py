"""Kubeflow and Kubernetes: the KFP API client, per-step pod settings, component images."""
