// Hash routes (`#/`, `#/pipelines/<id>`, `#/pipelines/<id>/nodes/<node>` for a selected node): the app is served as static files under /logidata/ui/ inside
// Airflow's iframe, so the path must never change.
import { useSyncExternalStore } from "react";

export type Route = { page: "list" } | { page: "pipeline"; id: string; node?: string | null };

export function parseHash(hash: string): Route {
  const match = /^#?\/pipelines\/([^/?#]+)(?:\/nodes\/([^/?#]+))?/.exec(hash);
  if (match) return { page: "pipeline", id: decodeURIComponent(match[1]), node: match[2] ? decodeURIComponent(match[2]) : null };
  return { page: "list" };
}

export function hrefFor(route: Route): string {
  if (route.page !== "pipeline") return "#/";
  const node = route.node ? `/nodes/${encodeURIComponent(route.node)}` : "";
  return `#/pipelines/${encodeURIComponent(route.id)}${node}`;
}

/** The selected node in the address, without a history entry per click (Back leaves the pipeline). */
export function replaceRoute(route: Route, win: Window = window): void {
  const href = hrefFor(route);
  if (win.location.hash === href) return;
  win.history.replaceState(win.history.state, "", `${win.location.pathname}${win.location.search}${href}`);
  win.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function navigate(route: Route): void {
  window.location.hash = hrefFor(route);
}

function subscribe(cb: () => void): () => void {
  window.addEventListener("hashchange", cb);
  return () => window.removeEventListener("hashchange", cb);
}

export function useRoute(): Route {
  const hash = useSyncExternalStore(subscribe, () => window.location.hash, () => "");
  return parseHash(hash);
}

/** Airflow's "Pipelines" page (`/plugin/logidata...`, the navigation entry) when the builder is its iframe; not
 * the DAG's "Pipeline" tab (its address already names the pipeline) nor another origin. */
export function airflowNavPage(win: Window = window): Window | null {
  try {
    if (win.parent === win) return null;
    // Airflow 3.3 shows it at `/plugin/logidata/<href>`; the DAG tab lives under `/dags/<id>/plugin/...`.
    const path = win.parent.location.pathname;
    return /\/plugin\/logidata(\/|$)/.test(path) && !/\/dags\//.test(path) ? win.parent : null;
  } catch {
    return null;
  }
}

/** The open pipeline mirrored in Airflow's page address (`/plugin/logidata#/pipelines/<id>`): it can be
 * bookmarked and shared, and a login (its `next`) comes back to it. Airflow's router keeps its state. */
export function mirrorRoute(route: Route, win: Window = window): void {
  const top = airflowNavPage(win);
  if (!top) return;
  const { pathname, search, hash } = top.location;
  const wanted = route.page === "pipeline" ? hrefFor(route) : "";
  if (hash === wanted || (!hash && !wanted)) return;
  top.history.replaceState(top.history.state, "", `${pathname}${search}${wanted}`);
}

/** On start inside Airflow's page, open what its address names (a bookmark, the page a login returned to). */
export function adoptTopRoute(win: Window = window): void {
  const top = airflowNavPage(win);
  if (!top || win.location.hash) return;
  const route = parseHash(top.location.hash);
  if (route.page === "pipeline") win.location.hash = hrefFor(route);
}
