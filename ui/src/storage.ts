/** This browser's localStorage, or null where there is none or it is refused (private mode, a sandboxed
 * iframe): callers then go without what they keep there. */
export function browserStorage(): Storage | null {
  try {
    return typeof window !== "undefined" ? window.localStorage : null;
  } catch {
    return null;
  }
}
