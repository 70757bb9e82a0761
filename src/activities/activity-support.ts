/**
 * Small helpers shared by the cluster and Spark activities: heartbeating while something slow runs,
 * and reading the activity context when there is one (the helpers also run outside activities in tests).
 */
import { Context } from '@temporalio/activity';

/** The current activity context, or undefined outside an activity. */
export function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

export function cancellationSignal(): AbortSignal | undefined {
  return currentContext()?.cancellationSignal;
}

export function heartbeat(details?: unknown): void {
  currentContext()?.heartbeat(details);
}

/**
 * Runs `work` while heartbeating every `intervalMs` with the latest details, so a slow AWS waiter or
 * poll still lets the server deliver cancellation and detect a dead worker.
 */
export async function withHeartbeat<T>(
  details: () => unknown,
  work: () => Promise<T>,
  intervalMs = 5_000,
): Promise<T> {
  heartbeat(details());
  const timer = setInterval(() => heartbeat(details()), intervalMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));
