"""Radiance fields for SDS distillation: hash-grid fields, proposal sampling, volume rendering."""
