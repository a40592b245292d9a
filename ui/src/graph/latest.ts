// Requests that race: validation runs after every edit, and an older request may answer after a newer
// one. Each request takes a ticket; only the answer holding the newest ticket is applied.

export interface LatestGuard {
  /** A ticket for a request about to be sent; every earlier ticket becomes stale. */
  issue(): number;
  /** True while no newer ticket was issued. */
  isLatest(ticket: number): boolean;
}

export function latestGuard(): LatestGuard {
  let newest = 0;
  return {
    issue: () => (newest += 1),
    isLatest: (ticket) => ticket === newest,
  };
}

/**
 * Run `request` under `guard`: `apply` sees its answer only if no newer request was issued meanwhile.
 * Failures are passed to `fail` under the same rule; a stale failure is dropped too.
 */
export function runLatest<T>(guard: LatestGuard, request: () => Promise<T>, apply: (value: T) => void, fail: (error: unknown) => void = () => undefined): Promise<void> {
  const ticket = guard.issue();
  return request().then(
    (value) => {
      if (guard.isLatest(ticket)) apply(value);
    },
    (error: unknown) => {
      if (guard.isLatest(ticket)) fail(error);
    },
  );
}
