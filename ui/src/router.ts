// Hash routes (`#/`, `#/pipelines/<id>`): the app is served as static files under /logidata/ui/ inside
// Airflow's iframe, so the path must never change.
import { useSyncExternalStore } from "react";

export type Route = { page: "list" } | { page: "pipeline"; id: string };

export function parseHash(hash: string): Route {
  const match = /^#?\/pipelines\/([^/?#]+)/.exec(hash);
  if (match) return { page: "pipeline", id: decodeURIComponent(match[1]) };
  return { page: "list" };
}

export function hrefFor(route: Route): string {
  return route.page === "pipeline" ? `#/pipelines/${encodeURIComponent(route.id)}` : "#/";
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
