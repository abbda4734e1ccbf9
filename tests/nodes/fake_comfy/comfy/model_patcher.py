"""Fake ``comfy.model_patcher``: a ``ModelPatcher`` that holds the model and its devices and, as
ComfyUI's does, writes the model's ``device`` attribute (when missing, and on every load)."""


class ModelPatcher:
    def __init__(self, model, load_device, offload_device, size=0, weight_inplace_update=False):
        self.model = model
        self.load_device = load_device
        self.offload_device = offload_device
        if getattr(model, "device", None) is None:
            self.model.device = offload_device
