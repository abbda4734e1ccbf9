"""A stand-in for ComfyUI's V3 ``io`` module on a ComfyUI without it (or with no ComfyUI at all).

It offers the names the pack's nodes use (``ComfyNode``, ``Schema``, ``NodeOutput``, ``Custom`` and the
widget and socket types), and ``ComfyNode.schema_v1()`` turns a node into a classic V1 node: ``INPUT_TYPES``,
``RETURN_TYPES``, ``RETURN_NAMES``, ``OUTPUT_TOOLTIPS``, ``CATEGORY``, ``DESCRIPTION``, ``OUTPUT_NODE`` and
``FUNCTION``, read from its schema. Node ids and input names are the same as under V3, so saved
workflows load with either API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Boolean",
    "ComfyNode",
    "Combo",
    "Conditioning",
    "Custom",
    "Float",
    "Image",
    "Int",
    "Latent",
    "Mask",
    "NodeOutput",
    "Schema",
    "String",
]

_V1_OPTION_NAMES = {"display_mode": "display", "force_input": "forceInput"}
"""V3 keyword -> V1 option key where they differ; every other keyword keeps its name."""


@dataclass(frozen=True)
class Input:
    io_type: str
    id: str
    optional: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def v1(self) -> tuple:
        """``(type, options)`` as ``INPUT_TYPES`` wants it; a combo's type is its list of options."""
        options = {_V1_OPTION_NAMES.get(key, key): value for key, value in self.options.items() if value is not None}
        if self.io_type == "COMBO":
            return (list(options.pop("options")), options)
        return (self.io_type, options)


@dataclass(frozen=True)
class Output:
    io_type: str
    id: str | None = None
    display_name: str | None = None
    tooltip: str | None = None


class Custom:
    """A socket type by name: ``Custom("NAME").Input(id, ...)`` and ``.Output(...)``."""

    def __init__(self, io_type: str):
        self.io_type = io_type

    def Input(self, id: str, optional: bool = False, **options) -> Input:  # noqa: N802 (V3's name)
        return Input(self.io_type, id, optional, options)

    def Output(self, id: str | None = None, display_name: str | None = None, tooltip: str | None = None) -> Output:  # noqa: N802
        return Output(self.io_type, id, display_name, tooltip)


Boolean, Combo, Conditioning, Float, Image, Int, Latent, Mask, String = (
    Custom(name) for name in ("BOOLEAN", "COMBO", "CONDITIONING", "FLOAT", "IMAGE", "INT", "LATENT", "MASK", "STRING")
)


@dataclass
class Schema:
    node_id: str
    display_name: str
    category: str
    inputs: list[Input] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    description: str = ""
    is_output_node: bool = False


class NodeOutput:
    """A node's outputs and, for output nodes, its ``ui`` dict."""

    def __init__(self, *args: Any, ui: dict | None = None):
        self.args = args
        self.ui = ui


class ComfyNode:
    """Base of the pack's nodes: subclasses define ``define_schema`` and ``execute`` as under V3;
    ``schema_v1()`` then turns the class into a V1 node and returns its schema."""

    FUNCTION = "run"

    @classmethod
    def define_schema(cls) -> Schema:
        raise NotImplementedError

    @classmethod
    def execute(cls, **inputs) -> NodeOutput:
        raise NotImplementedError

    @classmethod
    def schema_v1(cls) -> Schema:
        """Set the V1 class attributes that ComfyUI reads from the schema; returns the schema."""
        schema = cls.define_schema()
        cls.RETURN_TYPES = tuple(output.io_type for output in schema.outputs)
        cls.RETURN_NAMES = tuple(output.display_name or output.io_type for output in schema.outputs)
        cls.OUTPUT_TOOLTIPS = tuple(output.tooltip or "" for output in schema.outputs)
        cls.CATEGORY = schema.category
        cls.DESCRIPTION = schema.description
        cls.OUTPUT_NODE = schema.is_output_node
        return schema

    @classmethod
    def INPUT_TYPES(cls) -> dict:  # noqa: N802 (ComfyUI's name)
        types: dict[str, dict] = {"required": {}, "optional": {}}
        for item in cls.define_schema().inputs:
            types["optional" if item.optional else "required"][item.id] = item.v1()
        return types

    def run(self, **inputs):
        output = type(self).execute(**inputs)
        return output.args if output.ui is None else {"ui": output.ui, "result": output.args}
