// Stored pipeline documents (answers) may not match Spec: the editor reads them through api/document.
import { describe, expect, it } from "vitest";
import { documentStatus, specFromDocument } from "../src/api/document";

describe("stored documents", () => {
  it("keeps what is stored and gives the canvas lists of node and edge objects", () => {
    const doc = { spec_version: 1, id: "x", status: "draft", catchup: 7, nodes: [1, { id: "a", module: "m" }], edges: "oops" };
    const spec = specFromDocument(doc);
    expect(spec.nodes).toEqual([{ id: "a", module: "m" }]);
    expect(spec.edges).toEqual([]);
    expect((spec as unknown as { catchup: unknown }).catchup).toBe(7); // saved back as it was, for the server to report
    expect(spec.id).toBe("x");
    expect(specFromDocument({ spec_version: 1, id: 5, nodes: [], edges: [] }, "fallback").id).toBe("fallback");
  });

  it("reads the status the way the store does", () => {
    expect(documentStatus({ status: "draft" })).toBe("draft");
    expect(documentStatus({ status: "active" })).toBe("active");
    expect(documentStatus({})).toBe("active");
    expect(documentStatus(null)).toBe("active");
  });
});
