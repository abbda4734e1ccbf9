"""Training data: the synthetic multi-view scene generator and dataset readers."""
