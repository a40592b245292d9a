// Which side panels are open (palette, configuration drawer, data panel), remembered per Airflow user in
// this browser: two people sharing a machine keep their own layout. The DAG's "Pipeline" tab and other small
// frames get a compact layout with its own remembered state, so closing the palette there does not close it
// in the full-size builder.
import { useCallback, useEffect, useState } from "react";
import { browserStorage } from "../storage";

export interface PanelState {
  palette: boolean;
  drawer: boolean;
  data: boolean;
}
export type PanelName = keyof PanelState;
export type Layout = "full" | "compact";

// The compact layout opens with the canvas alone: a tab about 800 × 600 px has no room for three panels.
const DEFAULTS: Record<Layout, PanelState> = {
  full: { palette: true, drawer: true, data: true },
  compact: { palette: false, drawer: false, data: false },
};
// Below this the full layout leaves the canvas too narrow to draw a pipeline readably: the builder inside
// Airflow in a 1280 px window is about 1216 px wide, and palette + drawer would leave ~650 px of canvas.
const COMPACT_WIDTH = 1300;
const COMPACT_HEIGHT = 640;

export function panelsKey(user: string, layout: Layout): string {
  return `logidata.panels.${layout}.${user || "anonymous"}`;
}

export function readPanels(user: string, layout: Layout, storage: Storage | null = browserStorage()): PanelState {
  const fallback = DEFAULTS[layout];
  try {
    const raw = storage?.getItem(panelsKey(user, layout));
    const parsed: unknown = raw ? JSON.parse(raw) : null;
    if (!parsed || typeof parsed !== "object") return fallback;
    const saved = parsed as Partial<Record<PanelName, unknown>>;
    const pick = (name: PanelName) => (typeof saved[name] === "boolean" ? (saved[name] as boolean) : fallback[name]);
    return { palette: pick("palette"), drawer: pick("drawer"), data: pick("data") };
  } catch {
    return fallback;
  }
}

export function writePanels(user: string, layout: Layout, state: PanelState, storage: Storage | null = browserStorage()): void {
  try {
    storage?.setItem(panelsKey(user, layout), JSON.stringify(state));
  } catch {
    // Full or refused storage: the layout is simply not remembered.
  }
}

/** Inside a DAG's "Pipeline" tab (Airflow's `/dags/<id>/plugin/...`): Airflow's page already names the
 * pipeline and leads back to the DAG list. */
export function inDagTab(win: Window = window): boolean {
  try {
    return win.parent !== win && /\/dags\/[^/]+\/plugin\//.test(win.parent.location.pathname);
  } catch {
    return false; // another origin's frame
  }
}

/** The DAG's tab or a window too small for the full layout. */
export function layoutFor(win: Window = window): Layout {
  if (inDagTab(win)) return "compact";
  return win.innerWidth < COMPACT_WIDTH || win.innerHeight < COMPACT_HEIGHT ? "compact" : "full";
}

function useLayout(): Layout {
  const [layout, setLayout] = useState<Layout>(() => layoutFor());
  useEffect(() => {
    const onResize = () => setLayout(layoutFor());
    window.addEventListener("resize", onResize);
    return () => window.removeEventListener("resize", onResize);
  }, []);
  return layout;
}

/** The panels' state for this user and layout, and a toggle that remembers the choice. */
export function usePanels(user: string): { layout: Layout; panels: PanelState; toggle: (name: PanelName, open?: boolean) => void } {
  const layout = useLayout();
  const [panels, setPanels] = useState<PanelState>(() => readPanels(user, layout));
  useEffect(() => setPanels(readPanels(user, layout)), [user, layout]);
  const toggle = useCallback(
    (name: PanelName, open?: boolean) => {
      setPanels((current) => {
        const next = { ...current, [name]: open ?? !current[name] };
        writePanels(user, layout, next);
        return next;
      });
    },
    [user, layout],
  );
  return { layout, panels, toggle };
}
