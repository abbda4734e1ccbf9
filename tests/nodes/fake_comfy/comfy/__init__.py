"""Fake ``comfy`` package (see ../README.md)."""
