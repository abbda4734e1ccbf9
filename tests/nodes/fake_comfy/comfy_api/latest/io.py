"""Fake ``comfy_api.latest.io``: the V3 schema classes with ComfyUI 0.3.64's constructor signatures
(keyword names and defaults as in its ``comfy_api/latest/_io.py``), for the types the pack uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

WIDGET_TYPES = ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")


class Input:
    io_type = ""

    def __init__(self, id, display_name=None, optional=False, tooltip=None, lazy=None, extra_dict=None):
        self.id, self.display_name, self.optional, self.tooltip, self.lazy = id, display_name, optional, tooltip, lazy
        self.force_input = None
        self.default = None


class WidgetInput(Input):
    def __init__(
        self,
        id,
        display_name=None,
        optional=False,
        tooltip=None,
        lazy=None,
        default=None,
        socketless=None,
        widget_type=None,
        force_input=None,
        extra_dict=None,
    ):
        super().__init__(id, display_name, optional, tooltip, lazy, extra_dict)
        self.default, self.force_input = default, force_input


class Output:
    io_type = ""

    def __init__(self, id=None, display_name=None, tooltip=None, is_output_list=False):
        self.id, self.display_name, self.tooltip, self.is_output_list = id, display_name, tooltip, is_output_list


def _type(name: str, input_class=Input):
    """A ComfyType: a class with ``io_type`` and its ``Input`` and ``Output`` classes."""
    inputs = type("Input", (input_class,), {"io_type": name})
    outputs = type("Output", (Output,), {"io_type": name})
    return type(name, (), {"io_type": name, "Input": inputs, "Output": outputs})


def Custom(io_type: str):  # noqa: N802 (ComfyUI's name)
    return _type(io_type)


class _BooleanInput(WidgetInput):
    def __init__(
        self,
        id,
        display_name=None,
        optional=False,
        tooltip=None,
        lazy=None,
        default=None,
        label_on=None,
        label_off=None,
        socketless=None,
        force_input=None,
    ):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)


class _IntInput(WidgetInput):
    def __init__(
        self,
        id,
        display_name=None,
        optional=False,
        tooltip=None,
        lazy=None,
        default=None,
        min=None,
        max=None,
        step=None,
        control_after_generate=None,
        display_mode=None,
        socketless=None,
        force_input=None,
    ):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
        self.min, self.max, self.control_after_generate = min, max, control_after_generate


class _FloatInput(WidgetInput):
    def __init__(
        self,
        id,
        display_name=None,
        optional=False,
        tooltip=None,
        lazy=None,
        default=None,
        min=None,
        max=None,
        step=None,
        round=None,
        display_mode=None,
        socketless=None,
        force_input=None,
    ):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)
        self.min, self.max = min, max


class _StringInput(WidgetInput):
    def __init__(
        self,
        id,
        display_name=None,
        optional=False,
        tooltip=None,
        lazy=None,
        multiline=False,
        placeholder=None,
        default=None,
        dynamic_prompts=None,
        socketless=None,
        force_input=None,
    ):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless, None, force_input)


class _ComboInput(WidgetInput):
    def __init__(
        self,
        id,
        options=None,
        display_name=None,
        optional=False,
        tooltip=None,
        lazy=None,
        default=None,
        control_after_generate=None,
        upload=None,
        image_folder=None,
        remote=None,
        socketless=None,
    ):
        super().__init__(id, display_name, optional, tooltip, lazy, default, socketless)
        self.options = options


Boolean = _type("BOOLEAN", _BooleanInput)
Int = _type("INT", _IntInput)
Float = _type("FLOAT", _FloatInput)
String = _type("STRING", _StringInput)
Combo = _type("COMBO", _ComboInput)
Image = _type("IMAGE")
Mask = _type("MASK")
Conditioning = _type("CONDITIONING")
Latent = _type("LATENT")


@dataclass
class Schema:
    node_id: str
    display_name: str = None
    category: str = "sd"
    inputs: list = None
    outputs: list = None
    hidden: list = None
    description: str = ""
    is_input_list: bool = False
    is_output_node: bool = False
    is_deprecated: bool = False
    is_experimental: bool = False
    is_api_node: bool = False
    not_idempotent: bool = False
    enable_expand: bool = False

    def __post_init__(self):
        ids = [item.id for item in self.inputs or []] + [item.id for item in self.outputs or [] if item.id]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{self.node_id}: input and output ids must be unique, got {ids}")


class ComfyNode:
    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **kwargs):
        raise NotImplementedError


class NodeOutput:
    def __init__(self, *args: Any, ui=None, expand=None, block_execution=None):
        self.args, self.ui = args, ui
