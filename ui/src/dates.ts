// Dates as Airflow shows them: `2026-12-02 15:43:42`, in the time zone chosen in Airflow's user menu (kept in
// localStorage `timezone`, JSON-encoded, by Airflow's UI; the browser's zone until one is chosen).
import { browserStorage } from "./storage";

export const TIMEZONE_KEY = "timezone";

export function airflowTimezone(storage: Pick<Storage, "getItem"> | null = browserStorage()): string {
  const fallback = Intl.DateTimeFormat().resolvedOptions().timeZone;
  let raw: string | null = null;
  try {
    raw = storage?.getItem(TIMEZONE_KEY) ?? null;
  } catch {
    return fallback;
  }
  if (!raw) return fallback;
  let zone: unknown = raw;
  try {
    zone = JSON.parse(raw);
  } catch {
    // stored as plain text
  }
  if (typeof zone !== "string") return fallback;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return zone;
  } catch {
    return fallback; // not a zone this browser knows
  }
}


/** `YYYY-MM-DD HH:mm:ss` in `timeZone`; the text itself when it is no date; "—" for none. */
export function formatDate(value: string | null | undefined, timeZone: string = airflowTimezone()): string {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return value;
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    })
      .formatToParts(d)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
}
