import { describe, expect, it, vi } from "vitest";
import { adoptTopRoute, airflowNavPage, mirrorRoute } from "../src/router";

function windows(topPath: string, topHash = "", ownHash = "") {
  const replaceState = vi.fn((_state: unknown, _unused: string, url: string) => {
    top.location.hash = url.includes("#") ? url.slice(url.indexOf("#")) : "";
  });
  const top = { location: { pathname: topPath, search: "?x=1", hash: topHash }, history: { state: { idx: 3 }, replaceState } };
  const own = { parent: top, location: { hash: ownHash } };
  return { top, own: own as unknown as Window, replaceState };
}

describe("the open pipeline in Airflow's page address", () => {
  it("is mirrored on Airflow's Pipelines page, keeping its router state", () => {
    const { own, top, replaceState } = windows("/plugin/logidata");
    mirrorRoute({ page: "pipeline", id: "orders daily" }, own);
    expect(replaceState).toHaveBeenCalledWith({ idx: 3 }, "", "/plugin/logidata?x=1#/pipelines/orders%20daily");
    mirrorRoute({ page: "pipeline", id: "orders daily" }, own);
    expect(replaceState).toHaveBeenCalledTimes(1); // already there
    mirrorRoute({ page: "list" }, own);
    expect(replaceState).toHaveBeenLastCalledWith({ idx: 3 }, "", "/plugin/logidata?x=1");
    expect(top.location.hash).toBe("");
  });

  it("finds the page where Airflow 3.3 puts it", () => {
    expect(airflowNavPage(windows("/plugin/logidata/logidata/ui/").own)).not.toBeNull();
    expect(airflowNavPage(windows("/prefix/plugin/logidata").own)).not.toBeNull();
  });

  it("is left alone in the DAG's Pipeline tab and outside Airflow", () => {
    const { own, replaceState } = windows("/dags/orders/plugin/logidata-pipeline");
    expect(airflowNavPage(own)).toBeNull();
    mirrorRoute({ page: "pipeline", id: "orders" }, own);
    expect(replaceState).not.toHaveBeenCalled();
    const alone = { parent: null as unknown, location: { hash: "" } };
    alone.parent = alone;
    expect(airflowNavPage(alone as unknown as Window)).toBeNull();
  });

  it("opens what the page's address names on start (a bookmark, the return from a login)", () => {
    const { own } = windows("/plugin/logidata", "#/pipelines/orders");
    adoptTopRoute(own);
    expect(own.location.hash).toBe("#/pipelines/orders");
    const { own: other } = windows("/plugin/logidata/logidata/ui/", "#/pipelines/orders", "#/pipelines/mine");
    adoptTopRoute(other);
    expect(other.location.hash).toBe("#/pipelines/mine"); // its own address wins
  });
});

describe("a pipeline's selected node in the address", () => {
  it("reads and writes #/pipelines/<id>/nodes/<node>", async () => {
    const { parseHash, hrefFor } = await import("../src/router");
    expect(parseHash("#/pipelines/orders/nodes/clean%201")).toEqual({ page: "pipeline", id: "orders", node: "clean 1" });
    expect(parseHash("#/pipelines/orders")).toEqual({ page: "pipeline", id: "orders", node: null });
    expect(hrefFor({ page: "pipeline", id: "orders", node: "clean 1" })).toBe("#/pipelines/orders/nodes/clean%201");
    expect(hrefFor({ page: "pipeline", id: "orders", node: null })).toBe("#/pipelines/orders");
  });

  it("replaces the address without a history entry and tells the app", async () => {
    const { replaceRoute } = await import("../src/router");
    const heard: string[] = [];
    const listener = () => heard.push(window.location.hash);
    window.addEventListener("hashchange", listener);
    const before = window.history.length;
    replaceRoute({ page: "pipeline", id: "orders", node: "read" });
    expect(window.location.hash).toBe("#/pipelines/orders/nodes/read");
    expect(window.history.length).toBe(before);
    expect(heard).toEqual(["#/pipelines/orders/nodes/read"]);
    replaceRoute({ page: "pipeline", id: "orders", node: "read" }); // already there: nothing
    expect(heard).toHaveLength(1);
    window.removeEventListener("hashchange", listener);
  });
});
