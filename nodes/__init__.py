"""ComfyUI adapters over ``zeronvs_core``: one small module per node family, no maths.

``NODE_CLASSES`` lists the node classes (V3 schema API). With ComfyUI's V3 API present this package
exports ``comfy_entrypoint``; otherwise (an older ComfyUI, or no ComfyUI at all, as in the tests) it
exports ``NODE_CLASS_MAPPINGS`` and ``NODE_DISPLAY_NAME_MAPPINGS``. Never both: ComfyUI would
silently take the V1 mappings and ignore the entry point.

The nodes themselves come with the node-pack issue; until then the pack loads and registers none.
"""

NODE_CLASSES: tuple = ()

try:
    from comfy_api.latest import ComfyExtension
except ImportError:
    NODE_CLASS_MAPPINGS: dict = {}
    NODE_DISPLAY_NAME_MAPPINGS: dict = {}
else:

    class ZeroNVSExtension(ComfyExtension):
        """The node pack as a V3 extension."""

        async def get_node_list(self) -> list:
            return list(NODE_CLASSES)

    async def comfy_entrypoint() -> ZeroNVSExtension:
        """ComfyUI's V3 entry point."""
        return ZeroNVSExtension()
