// React Flow's own accessible names (its zoom buttons, the mini map, node and edge help) in the builder's
// language. The English ones are React Flow's defaults, word for word.
import type { AriaLabelConfig } from "@xyflow/react";
import type { Translate } from "../i18n";

export function flowAriaLabels(t: Translate): Partial<AriaLabelConfig> {
  return {
    "node.a11yDescription.default": t("Press enter or space to select a node. Press delete to remove it and escape to cancel."),
    "node.a11yDescription.keyboardDisabled": t(
      "Press enter or space to select a node. You can then use the arrow keys to move the node around. Press delete to remove it and escape to cancel.",
    ),
    "edge.a11yDescription.default": t("Press enter or space to select an edge. You can then press delete to remove it or escape to cancel."),
    "controls.ariaLabel": t("Control Panel"),
    "controls.zoomIn.ariaLabel": t("Zoom In"),
    "controls.zoomOut.ariaLabel": t("Zoom Out"),
    "controls.fitView.ariaLabel": t("Fit View"),
    "controls.interactive.ariaLabel": t("Toggle Interactivity"),
    "minimap.ariaLabel": t("Mini Map"),
    "handle.ariaLabel": t("Handle"),
  };
}
