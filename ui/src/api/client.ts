// Thin fetch wrapper: same-origin cookie auth, one error type carrying the API's `{detail, errors}` body,
// and a single place that notices an expired session (401) so the whole app can show the login link.
import { t } from "../i18n";
import type {
  ApiErrorBody,
  Connection,
  DeletedList,
  DeletedPipeline,
  DismissedSuggestions,
  History,
  Issue,
  Me,
  Module,
  PipelineSummary,
  RunCreated,
  RunList,
  Spec,
  StoredPipeline,
  Validation,
  Version,
  VersionDiff,
  VersionDocument,
} from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly errors: Issue[];
  readonly body: unknown;

  constructor(status: number, body: unknown) {
    const parsed = (body ?? {}) as Partial<ApiErrorBody>;
    const detail = typeof parsed.detail === "string" ? parsed.detail : `HTTP ${status}`;
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = Array.isArray(parsed.errors) ? parsed.errors : [];
    this.body = body;
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called on every 401; the app shows "Session expired — log in". */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

/**
 * The API lives beside the UI: `/logidata/ui/...` → `/logidata/api`. Derived from the page's own path so
 * the bundle works under any mount prefix.
 */
export function apiBase(pathname: string = window.location.pathname): string {
  const match = /^(.*)\/ui(\/.*)?$/.exec(pathname);
  return match ? `${match[1]}/api` : "/logidata/api";
}

export async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const init: RequestInit = { method, credentials: "include", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers = { ...init.headers, "Content-Type": "application/json" };
  }
  let response: Response;
  try {
    response = await fetch(`${apiBase()}${path}`, init);
  } catch (exc) {
    throw new ApiError(0, { detail: t("Cannot reach the LogiData API ({error}); is Airflow running?", { error: String(exc) }) });
  }
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { detail: text.slice(0, 500) };
    }
  }
  if (!response.ok) {
    if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
    throw new ApiError(response.status, parsed);
  }
  return parsed as T;
}

const enc = encodeURIComponent;
// A blank message is none: the history shows no empty line.
const withMessage = (message?: string): { message?: string } => (message?.trim() ? { message: message.trim() } : {});

export const api = {
  // With a pipeline id: can_edit / can_run on that pipeline's DAG (per-DAG grants); without: DAGs in general.
  me: (pipelineId?: string) => request<Me>("GET", pipelineId === undefined ? "/me" : `/me?pipeline_id=${enc(pipelineId)}`),
  modules: () => request<{ modules: Module[] }>("GET", "/modules").then((r) => r.modules),
  pipelines: () => request<{ pipelines: PipelineSummary[] }>("GET", "/pipelines").then((r) => r.pipelines),
  pipeline: (id: string) => request<StoredPipeline>("GET", `/pipelines/${enc(id)}`),
  // message: what changed and why, one line shown in the history (≤ 500 characters); left out when empty.
  create: (pipeline: Spec, message?: string) => request<StoredPipeline>("POST", "/pipelines", { pipeline, ...withMessage(message) }),
  update: (pipeline: Spec, expectedEtag: string, message?: string) =>
    request<StoredPipeline>("PUT", `/pipelines/${enc(pipeline.id)}`, { pipeline, expected_etag: expectedEtag, ...withMessage(message) }),
  remove: (id: string, expectedEtag?: string) =>
    request<void>(
      "DELETE",
      `/pipelines/${enc(id)}${expectedEtag ? `?expected_etag=${enc(expectedEtag)}` : ""}`,
    ),
  duplicate: (id: string, newId: string, name?: string) =>
    request<StoredPipeline>("POST", `/pipelines/${enc(id)}/duplicate`, name ? { new_id: newId, name } : { new_id: newId }),
  // Every saved version, newest first (a deleted pipeline keeps its history).
  history: (id: string) => request<History>("GET", `/pipelines/${enc(id)}/history`).then((r): Version[] => r.versions),
  version: (id: string, version: number) => request<VersionDocument>("GET", `/pipelines/${enc(id)}/versions/${version}`),
  // to omitted: against the current version.
  diff: (id: string, from: number, to?: number) =>
    request<VersionDiff>("GET", `/pipelines/${enc(id)}/diff?from_version=${from}${to === undefined ? "" : `&to_version=${to}`}`),
  // expectedEtag: the current version's etag (a stale one is a 409 Conflict); null brings back a deleted pipeline.
  restore: (id: string, version: number, expectedEtag: string | null, message?: string) =>
    request<StoredPipeline>("POST", `/pipelines/${enc(id)}/restore`, { version, expected_etag: expectedEtag, ...withMessage(message) }),
  trash: () => request<DeletedList>("GET", "/trash").then((r): DeletedPipeline[] => r.pipelines),
  exportSpec: (id: string) => request<Spec>("GET", `/pipelines/${enc(id)}/export`),
  importSpec: (spec: unknown) => request<StoredPipeline>("POST", "/pipelines/import", spec),
  // refresh: read the sources' columns again instead of the server's remembered ones.
  validate: (pipeline: Spec, options: { refresh?: boolean; readSources?: boolean } = {}) =>
    request<Validation>("POST", "/validate", { pipeline, read_sources: options.readSources ?? true, refresh: options.refresh ?? false }),
  // unpause: false for a user without DAG edit permission (unpausing needs it; the run is queued instead).
  run: (id: string, unpause = true) => request<RunCreated>("POST", `/pipelines/${enc(id)}/runs`, { conf: {}, unpause }),
  runs: (id: string, limit = 5) => request<RunList>("GET", `/pipelines/${enc(id)}/runs?limit=${limit}`),
  connections: () => request<{ connections: Connection[] }>("GET", "/connections").then((r) => r.connections),
  // Dismissed suggestions of a saved pipeline (not part of the pipeline: no version, same etag).
  dismissedSuggestions: (id: string) =>
    request<DismissedSuggestions>("GET", `/pipelines/${enc(id)}/dismissed-suggestions`).then((r) => r.ids),
  dismissSuggestion: (id: string, suggestionId: string) =>
    request<DismissedSuggestions>("POST", `/pipelines/${enc(id)}/dismissed-suggestions`, { id: suggestionId }).then((r) => r.ids),
  restoreSuggestion: (id: string, suggestionId: string) =>
    request<DismissedSuggestions>("DELETE", `/pipelines/${enc(id)}/dismissed-suggestions/${enc(suggestionId)}`).then((r) => r.ids),
};

/** Where the "log in" link sends the top window: Airflow's login, back to the page the user was on. */
export function loginUrl(): string {
  let next = window.location.href;
  try {
    // Same-origin iframe (Airflow's external view): come back to the Airflow page, not the bare iframe.
    if (window.top && window.top !== window) next = window.top.location.href;
  } catch {
    // Cross-origin parent: fall back to the builder's own address.
  }
  return `/auth/login?next=${encodeURIComponent(next)}`;
}
