"""Fake ``comfy_api.latest``: ``io`` and ``ComfyExtension``."""

from . import io


class ComfyExtension:
    async def on_load(self) -> None:
        pass

    async def get_node_list(self) -> list:
        raise NotImplementedError


__all__ = ["ComfyExtension", "io"]
