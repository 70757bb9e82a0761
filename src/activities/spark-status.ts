/**
 * The standalone master's status JSON (`<web UI>/json/`) and the question start_spark asks of it:
 * has every expected worker registered, and if not, which ones are missing?
 * Pure functions, so the matching rules are unit-tested against a recorded sample.
 */

export interface SparkWorkerStatus {
  id: string;
  host: string;
  port: number;
  webuiaddress?: string;
  state: string;
}

export interface SparkMasterStatus {
  /** The master's own state: ALIVE, STANDBY, RECOVERING… */
  status: string;
  url: string;
  workers: SparkWorkerStatus[];
  aliveWorkers: SparkWorkerStatus[];
  activeApps: { id: string; name: string; state: string }[];
}

export function parseMasterStatus(json: unknown): SparkMasterStatus {
  if (typeof json !== 'object' || json === null || !Array.isArray((json as { workers?: unknown }).workers)) {
    throw new Error('not a Spark master status document (no "workers" array)');
  }
  const doc = json as {
    status?: unknown;
    url?: unknown;
    workers: Record<string, unknown>[];
    activeapps?: Record<string, unknown>[];
  };
  const workers: SparkWorkerStatus[] = doc.workers.map((w) => ({
    id: String(w.id ?? ''),
    host: String(w.host ?? ''),
    port: Number(w.port ?? 0),
    webuiaddress: typeof w.webuiaddress === 'string' ? w.webuiaddress : undefined,
    state: String(w.state ?? 'UNKNOWN'),
  }));
  return {
    status: String(doc.status ?? 'UNKNOWN'),
    url: String(doc.url ?? ''),
    workers,
    aliveWorkers: workers.filter((w) => w.state === 'ALIVE'),
    activeApps: (doc.activeapps ?? []).map((a) => ({
      id: String(a.id ?? ''),
      name: String(a.name ?? ''),
      state: String(a.state ?? ''),
    })),
  };
}

export interface ExpectedWorker {
  instanceId: string;
  privateIp: string;
  /** The line written to conf/workers for it (SSH_HOST or the private IP). */
  address: string;
}

export interface WorkerCheck {
  complete: boolean;
  alive: number;
  expected: number;
  /** Human-readable description of what is missing; empty when complete. */
  missing: string;
  /** Instance IDs that are certainly missing (empty when the missing one cannot be told apart). */
  missingInstanceIds: string[];
}

/** A worker registered under the instance's own identity: its private IP or EC2 private DNS name. */
function isInstance(worker: SparkWorkerStatus, expected: ExpectedWorker): boolean {
  const host = worker.host.toLowerCase();
  const dns = `ip-${expected.privateIp.replace(/\./g, '-')}`;
  return host === expected.privateIp || host === dns || host.startsWith(`${dns}.`);
}

/**
 * Matches ALIVE workers to the expected ones: first by the instance's private IP (or DNS name), then by
 * the address written to conf/workers. Several instances may share one address (a single-host cluster):
 * then only the count per address can be checked, and a missing worker is named as "one of" them.
 * Workers registered under names we cannot relate to any instance count towards the total.
 */
export function checkWorkers(status: SparkMasterStatus, expected: ExpectedWorker[]): WorkerCheck {
  const alive = status.aliveWorkers;
  const used = new Set<SparkWorkerStatus>();
  const take = (pred: (w: SparkWorkerStatus) => boolean) => {
    const w = alive.find((c) => !used.has(c) && pred(c));
    if (w) used.add(w);
    return w !== undefined;
  };
  const groups = new Map<string, ExpectedWorker[]>();
  for (const e of expected) groups.set(e.address, [...(groups.get(e.address) ?? []), e]);
  const describe = (m: ExpectedWorker) =>
    `${m.instanceId} (${m.privateIp}${m.address !== m.privateIp ? `, at ${m.address}` : ''})`;

  const parts: string[] = [];
  const certain: string[] = [];
  let missingCount = 0;
  for (const [address, members] of groups) {
    const byIdentity = members.filter((m) => take((w) => isInstance(w, m)));
    const rest = members.filter((m) => !byIdentity.includes(m));
    const byAddress = rest.filter(() => take((w) => w.host.toLowerCase() === address.toLowerCase()));
    const missing = rest.length - byAddress.length;
    if (missing === 0) continue;
    missingCount += missing;
    if (byAddress.length === 0) {
      const gone = rest;
      certain.push(...gone.map((m) => m.instanceId));
      parts.push(gone.map(describe).join(', '));
    } else {
      parts.push(
        `${missing} of the ${rest.length} workers at ${address}: one of ${rest.map(describe).join(', ')}`,
      );
    }
  }
  const strangers = alive.filter((w) => !used.has(w));
  if (missingCount > 0 && strangers.length >= missingCount) {
    return {
      complete: true,
      alive: alive.length,
      expected: expected.length,
      missing: '',
      missingInstanceIds: [],
    };
  }
  const also = strangers.length
    ? `; also ALIVE under other names: ${strangers.map((w) => `${w.host}:${w.port}`).join(', ')}`
    : '';
  return {
    complete: missingCount === 0,
    alive: alive.length,
    expected: expected.length,
    missing: missingCount ? `missing ${parts.join('; ')}${also}` : '',
    missingInstanceIds: certain,
  };
}
