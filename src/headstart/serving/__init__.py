"""Shipping models: ONNX export (export.py) and the HTTP server (server.py)."""
