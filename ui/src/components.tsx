// Small shared pieces: run-state colours (Airflow's own palette names), error boxes, the session banner.
import { Alert, Badge, Box, Link, type LinkProps } from "@chakra-ui/react";
import type { MouseEvent, ReactNode } from "react";
import { ApiError, loginUrl } from "./api/client";
import { stateName, t as translateNow, type Translate, useT } from "./i18n";

/** Airflow's task/run state colours, as Chakra palette names. */
export const STATE_PALETTE: Record<string, string> = {
  success: "green",
  failed: "red",
  running: "cyan",
  queued: "gray",
  scheduled: "gray",
  up_for_retry: "yellow",
  up_for_reschedule: "teal",
  upstream_failed: "orange",
  skipped: "pink",
  removed: "gray",
  deferred: "purple",
  restarting: "purple",
};

export const ACTIVE_STATES = new Set(["queued", "running", "scheduled", "up_for_retry", "up_for_reschedule", "deferred", "restarting"]);

/** A run or task state as shown: Airflow's own name for it in the language shown. */
export function stateLabel(state: string, t: Translate = translateNow): string {
  return stateName(state, t.language);
}

/** A pipeline's status (`draft`, `active`) as shown; the API and `data-*` attributes keep the value. */
export function statusLabel(status: string, t: Translate = translateNow): string {
  if (status === "draft") return t("draft");
  if (status === "active") return t("active");
  return status;
}

export function StateBadge({ state, children }: { state: string | null | undefined; children?: ReactNode }) {
  const t = useT();
  const s = state ?? "none";
  return (
    <Badge colorPalette={STATE_PALETTE[s] ?? "gray"} variant="solid" data-state={s}>
      {children ?? stateLabel(s, t)}
    </Badge>
  );
}

export { formatDate } from "./dates";

export function errorText(error: unknown): string {
  if (error instanceof ApiError) {
    const details = error.errors.map((e) => `${e.path ? `${e.path}: ` : ""}${e.message}`);
    return [error.detail, ...details].join("\n");
  }
  return error instanceof Error ? error.message : String(error);
}

export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  return (
    <Alert.Root status="error" data-testid="error-box">
      <Alert.Indicator />
      <Alert.Content>
        {title && <Alert.Title>{title}</Alert.Title>}
        <Alert.Description whiteSpace="pre-wrap">{errorText(error)}</Alert.Description>
      </Alert.Content>
    </Alert.Root>
  );
}

/**
 * Navigate Airflow's window (we run in its same-origin iframe). The iframe's sandbox lacks
 * allow-top-navigation, so neither `top.location = ...` nor a target=_top link from inside it may
 * navigate; a link placed in Airflow's own (unsandboxed) document may. Outside an iframe the plain
 * link does the job.
 */
export function navigateTop(url: string, event?: MouseEvent): void {
  let top: Window | null = null;
  try {
    top = window.top && window.top !== window ? window.top : null;
    if (top) void top.document; // throws when the parent is cross-origin
  } catch {
    top = null;
  }
  if (!top) return; // not framed: let the link's default action run
  event?.preventDefault();
  const doc = top.document;
  const a = doc.createElement("a");
  a.href = new URL(url, window.location.href).href;
  a.style.display = "none";
  doc.body.appendChild(a);
  a.click();
  a.remove();
}

/** A link to an Airflow page (login, DAG run): opens in Airflow's window, not inside the iframe. */
export function TopLink({ href, children, ...rest }: LinkProps & { href: string }) {
  return (
    <Link href={href} target="_top" onClick={(e) => navigateTop(href, e)} {...rest}>
      {children}
    </Link>
  );
}

export function SessionExpired() {
  const t = useT();
  return (
    <Box p="3" data-testid="session-expired">
      <Alert.Root status="warning">
        <Alert.Indicator />
        <Alert.Content>
          <Alert.Title>{t("Your Airflow session has expired.")}</Alert.Title>
          <Alert.Description>
            <TopLink href={loginUrl()} fontWeight="semibold" textDecoration="underline">
              {t("Session expired — log in")}
            </TopLink>{" "}
            {t("and you come back here.")}
          </Alert.Description>
        </Alert.Content>
      </Alert.Root>
    </Box>
  );
}
