// ZeroNVS Save Scene: show where the scene was saved, on the node (ComfyUI sends the node's ui "text"
// to onExecuted; the frontend shows it only for nodes that add a widget for it, as core PreviewAny does).
import { app } from "../../scripts/app.js";

app.registerExtension({
  name: "ZeroNVS.SaveScene",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== "ZeroNVS_SaveScene") return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = message?.text?.[0];
      if (!text) return;
      let widget = this.widgets?.find((w) => w.name === "saved");
      if (!widget) {
        widget = this.addWidget("text", "saved", text, () => {}, { serialize: false });
        widget.serialize = false;
      }
      widget.value = text;
      this.setDirtyCanvas(true, true);
    };
  },
});
