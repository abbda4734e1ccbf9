"""Training of the ZeroNVS diffusion model (installed as ``zeronvs_training``).

The training script, its configs and dataset preparation come with the training issue.
"""
