"""Metrics, calibration and learning curves."""
