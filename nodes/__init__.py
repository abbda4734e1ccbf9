"""ComfyUI adapters over ``zeronvs_core``: one small module per node family, no maths.

``NODE_CLASSES`` lists the nodes, written against the V3 schema API (``comfy_io.io``). With ComfyUI's
V3 API present this package exports ``comfy_entrypoint``; otherwise (an older ComfyUI, or no ComfyUI at
all, as in the tests) the same classes are V1 nodes and it exports ``NODE_CLASS_MAPPINGS`` and
``NODE_DISPLAY_NAME_MAPPINGS``. Never both: ComfyUI would silently take the V1 mappings and ignore the
entry point. Importing the package registers the ``models/zeronvs`` folder and imports no heavy
library (diffusers, transformers, nerfacc, OpenCV and imageio load when a node runs).
"""

from .anchors import AnchorGenerator
from .cameras import CameraPoseBuilder
from .comfy_io import HAS_V3
from .distill import SDSDistiller
from .mesh import SaveMesh
from .model import LoadModel, register_folder
from .render import OrbitRenderer, SaveOrbitVideo
from .sampler import Sampler
from .scale import SceneNormalizer
from .scenes import LoadScene, SaveScene
from .stock import StockConditioning

NODE_CLASSES: tuple = (
    LoadModel,
    CameraPoseBuilder,
    SceneNormalizer,
    Sampler,
    AnchorGenerator,
    SDSDistiller,
    OrbitRenderer,
    SaveOrbitVideo,
    SaveScene,
    LoadScene,
    SaveMesh,
    StockConditioning,
)

register_folder()

if HAS_V3:
    from comfy_api.latest import ComfyExtension

    class ZeroNVSExtension(ComfyExtension):
        """The node pack as a V3 extension."""

        async def get_node_list(self) -> list:
            return list(NODE_CLASSES)

    async def comfy_entrypoint() -> ZeroNVSExtension:
        """ComfyUI's V3 entry point."""
        return ZeroNVSExtension()

else:
    _SCHEMAS = [node.schema_v1() for node in NODE_CLASSES]
    NODE_CLASS_MAPPINGS: dict = {schema.node_id: node for schema, node in zip(_SCHEMAS, NODE_CLASSES, strict=True)}
    NODE_DISPLAY_NAME_MAPPINGS: dict = {schema.node_id: schema.display_name for schema in _SCHEMAS}
