"""Monitoring state and I/O: windows, the registered model, history, label joins, alert sinks."""
