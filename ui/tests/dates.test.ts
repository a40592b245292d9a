import { describe, expect, it } from "vitest";
import { airflowTimezone, formatDate, TIMEZONE_KEY } from "../src/dates";

const storage = (value: string | null) => ({ getItem: (key: string) => (key === TIMEZONE_KEY ? value : null) });

describe("dates as Airflow shows them", () => {
  it("writes YYYY-MM-DD HH:mm:ss in the zone asked", () => {
    expect(formatDate("2026-12-02T15:43:42Z", "UTC")).toBe("2026-12-02 15:43:42");
    expect(formatDate("2026-12-02T15:43:42Z", "Europe/Paris")).toBe("2026-12-02 16:43:42");
    expect(formatDate("2026-07-01T00:00:05+00:00", "America/New_York")).toBe("2026-06-30 20:00:05");
    expect(formatDate("2026-12-02T00:30:00Z", "UTC")).toBe("2026-12-02 00:30:00"); // 00, not 24
    expect(formatDate(null)).toBe("—");
    expect(formatDate("not a date")).toBe("not a date");
  });

  it("takes the zone chosen in Airflow's user menu, else the browser's", () => {
    const browser = Intl.DateTimeFormat().resolvedOptions().timeZone;
    expect(airflowTimezone(storage(JSON.stringify("Asia/Tokyo")))).toBe("Asia/Tokyo");
    expect(airflowTimezone(storage("Europe/Paris"))).toBe("Europe/Paris");
    expect(airflowTimezone(storage(null))).toBe(browser);
    expect(airflowTimezone(storage(JSON.stringify("Mars/Olympus")))).toBe(browser);
    expect(airflowTimezone(storage("{}"))).toBe(browser);
  });
});
