"""Fake ``comfy.model_management``: a CPU-only ComfyUI with the interrupt flag and model loading."""

import torch

LOADED: list = []
"""Every patcher passed to ``load_models_gpu``, in order."""
_interrupted = False


class InterruptProcessingException(Exception):
    pass


def interrupt_current_processing(value=True):
    global _interrupted
    _interrupted = value


def processing_interrupted():
    return _interrupted


def throw_exception_if_processing_interrupted():
    global _interrupted
    if _interrupted:
        _interrupted = False
        raise InterruptProcessingException()


def get_torch_device():
    return torch.device("cpu")


def unet_offload_device():
    return torch.device("cpu")


def intermediate_device():
    return torch.device("cpu")


def should_use_fp16(device=None, model_params=0, prioritize_performance=True, manual_cast=False):
    return False


def load_models_gpu(
    models, memory_required=0, force_patch_weights=False, minimum_memory_required=None, force_full_load=False
):
    for patcher in models:
        patcher.model.to(patcher.load_device)
        patcher.model.device = patcher.load_device
        LOADED.append(patcher)


def soft_empty_cache(force=False):
    pass
