"""Gradient training of transformer classifiers: one loop, named callback events."""
