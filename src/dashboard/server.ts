/**
 * The road manager's dashboard (`pothole dashboard`): one page with the latest day's map, the repair-priority
 * list, the 7-day trend and the pipeline runs, served by fastify with JSON APIs over the serving database.
 * Everything is read-only except the repair status; with DASHBOARD_USER/DASHBOARD_PASSWORD set, changing it
 * asks for that login (viewing never does), and a change is taken only from the dashboard's own address.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import basicAuth from '@fastify/basic-auth';
import compress from '@fastify/compress';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { loadConfig, readEnv, SECTIONS_FOR, type DashboardConfig, type TemporalConfig } from '../config';
import { createPool } from '../db/pool';
import { ownAddress } from './address';
import { serverError } from './errors';
import { registerRunRoutes } from './routes/runs';
import { registerStatusRoutes } from './routes/status';
import { registerViewRoutes } from './routes/views';
import { RunsPanel } from './runs';
import { REPAIR_VERDICTS } from './repair-check';
import { allowedTransitions, NOTE_MAX_LENGTH, REPAIR_STATUSES } from './status';

const PUBLIC_DIR = path.join(__dirname, 'public');
const LEAFLET_DIR = path.join(path.dirname(require.resolve('leaflet/package.json')), 'dist');
const OSM_ATTRIBUTION =
  '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

export interface DashboardDeps {
  pool: Pool;
  dashboard: DashboardConfig;
  temporal: TemporalConfig;
  /** For tests: the runs panel (by default one reading from config.temporal). */
  runs?: RunsPanel;
  /** Fill the caches (and open database connections) before answering, as `pothole dashboard` does. */
  warm?: boolean;
  /** Where the log goes (one JSON object a line): standard error by default. */
  logStream?: { write(line: string): void };
  /** For tests: failed logins allowed per client address within windowMs. */
  loginLimit?: { max: number; windowMs: number };
}

/** Failed logins per client address in 15 minutes before 429: room for typos, too few to guess a password. */
export const LOGIN_FAILURES_ALLOWED = 10;
const LOGIN_WINDOW_MS = 15 * 60_000;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Route parameters by the name answers give them (`*`: a static file's path). */
const PARAM_NAMES: Record<string, string> = { id: 's_id', '*': 'path' };

/** The first query parameter, route parameter or body field holding a NUL byte, which PostgreSQL cannot store. */
function nulField(req: FastifyRequest): string | undefined {
  const hasNul = (v: unknown) => typeof v === 'string' && v.includes('\0');
  const groups: [Record<string, unknown>, Record<string, string>][] = [
    [(req.query ?? {}) as Record<string, unknown>, {}],
    [(req.params ?? {}) as Record<string, unknown>, PARAM_NAMES],
    [req.body !== null && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {}, {}],
  ];
  for (const [values, names] of groups) {
    for (const [key, value] of Object.entries(values)) {
      if (hasNul(key) || hasNul(value) || (Array.isArray(value) && value.some(hasNul)))
        return names[key] ?? key;
    }
  }
  return undefined;
}

/** What the page needs to know before it draws: tiles, statuses and their rules, whether changes need a login. */
function pageSettings(dashboard: DashboardConfig) {
  const tiles = dashboard.DASHBOARD_TILE_URL === 'none' ? null : dashboard.DASHBOARD_TILE_URL;
  return {
    tileUrl: tiles,
    tileAttribution: tiles?.includes('openstreetmap.org') ? OSM_ATTRIBUTION : '',
    statuses: REPAIR_STATUSES,
    verdicts: REPAIR_VERDICTS,
    transitions: Object.fromEntries(REPAIR_STATUSES.map((s) => [s, allowedTransitions(s)])),
    noteMaxLength: NOTE_MAX_LENGTH,
    loginRequired: dashboard.DASHBOARD_USER !== undefined,
  };
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();

export async function buildDashboard(deps: DashboardDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: 'warn', stream: deps.logStream ?? process.stderr },
    genReqId: () => crypto.randomUUID(),
    bodyLimit: 64 * 1024,
  });
  const runs = deps.runs ?? new RunsPanel(deps.temporal);
  const settings = pageSettings(deps.dashboard);
  // The tile server's origin, a {s} subdomain placeholder as a CSP wildcard.
  const tileOrigin = (/^https?:\/\/[^/]+/.exec(settings.tileUrl ?? '')?.[0] ?? '').replace(/\{s\}/, '*');

  // The server's own share of each answer, which the browser's resource timings show beside the network's.
  const received = new WeakMap<object, number>();
  app.addHook('onRequest', async (req) => {
    received.set(req, performance.now());
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header(
      'Server-Timing',
      `app;dur=${(performance.now() - (received.get(req) ?? performance.now())).toFixed(1)}`,
    );
    reply.header('X-Request-Id', req.id);
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header(
      'Content-Security-Policy',
      `default-src 'self'; img-src 'self' data: ${tileOrigin}; style-src 'self' 'unsafe-inline'; ` +
        `script-src 'self'; connect-src 'self'; frame-ancestors 'none'`,
    );
  });
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: err.message });
    }
    // The database away (refused, restarting, gone mid-query) is an outage to report, not a bug.
    const outage =
      ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', '57P01', '57P03'].includes(err.code ?? '') ||
      /Connection terminated|timeout exceeded when trying to connect/.test(err.message);
    // The detail (SQL, addresses) goes to the log only; the answer names the request to look it up by.
    req.log.error({ err }, `${req.method} ${req.url.split('?')[0]} failed`);
    return outage
      ? serverError(reply, 503, 'the serving database is unavailable; try again shortly')
      : serverError(reply, 500, 'internal error');
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no such page or API: ${req.method} ${req.url.split('?')[0]}` });
  });

  // DNS rebinding: a foreign page at the dashboard's IP sends a foreign Origin (or Host, from a client that
  // sends no Origin). A request from the dashboard's own page, or a script, names its own address.
  app.addHook('onRequest', async (req, reply) => {
    if (SAFE_METHODS.has(req.method)) return;
    const listening = app.server.address() as AddressInfo | null;
    const own = ownAddress(
      deps.dashboard.DASHBOARD_PUBLIC_URL,
      deps.dashboard.DASHBOARD_HOST,
      listening?.port ?? deps.dashboard.DASHBOARD_PORT,
    );
    const origin = req.headers.origin;
    const host = (req.headers.host ?? '').toLowerCase();
    const [header, value, ok] =
      origin !== undefined
        ? ['Origin', origin, own.origins.has(origin)]
        : ['Host', host, own.hosts.has(host)];
    if (ok) return;
    const expected = [...(header === 'Origin' ? own.origins : own.hosts)].join(', ');
    return reply.code(403).send({
      error:
        `${header} ${value || '(none)'} is not this dashboard's address (${expected}): changes are taken only ` +
        "from the dashboard's own page; if people open it at another address, set DASHBOARD_PUBLIC_URL to it",
      field: header.toLowerCase(),
    });
  });

  app.addHook('preValidation', async (req, reply) => {
    const field = nulField(req);
    if (field === undefined) return;
    const name = field === 's_id' ? 'segment id' : field;
    return reply.code(400).send({ error: `${name} must not contain a NUL byte (\\0)`, field });
  });

  // Only failed logins count (a peek first, an increment on failure), per client address.
  // Answers and page files over 1 KB go compressed to a browser that accepts it (the priority CSV of a national
  // network is megabytes); the map's segments come compressed already.
  await app.register(compress, { global: true, threshold: 1024, encodings: ['br', 'gzip'] });
  await app.register(rateLimit, { global: false });
  const failedLogins = app.createRateLimit({
    max: deps.loginLimit?.max ?? LOGIN_FAILURES_ALLOWED,
    timeWindow: deps.loginLimit?.windowMs ?? LOGIN_WINDOW_MS,
  });
  const refuseWhileLockedOut = async (req: FastifyRequest, reply: FastifyReply) => {
    const limit = await failedLogins(req, { increment: false });
    // `remaining`, not isExceeded: the failures counted so far may all be used up, with none to spare.
    if (limit.isAllowed || limit.remaining > 0) return;
    return reply
      .code(429)
      .header('Retry-After', String(limit.ttlInSeconds))
      .send({
        error: `too many failed logins from this address: try again in ${limit.ttlInSeconds} s`,
      });
  };

  const user = deps.dashboard.DASHBOARD_USER;
  const password = deps.dashboard.DASHBOARD_PASSWORD;
  await app.register(basicAuth, {
    authenticate: { realm: 'pothole dashboard: repair status' },
    async validate(givenUser, givenPassword, req) {
      // Hashes have equal lengths, so timingSafeEqual can compare them whatever was typed.
      const ok =
        user !== undefined &&
        password !== undefined &&
        crypto.timingSafeEqual(sha256(givenUser), sha256(user)) &&
        crypto.timingSafeEqual(sha256(givenPassword), sha256(password.reveal()));
      if (!ok) {
        await failedLogins(req);
        throw Object.assign(new Error('wrong user name or password'), { statusCode: 401 });
      }
    },
  });
  const requireLogin = user !== undefined ? [refuseWhileLockedOut, app.basicAuth] : [];

  await app.register(fastifyStatic, { root: PUBLIC_DIR, prefix: '/', index: 'index.html' });
  await app.register(fastifyStatic, { root: LEAFLET_DIR, prefix: '/vendor/leaflet/', decorateReply: false });

  app.get('/api/settings', async () => settings);
  const views = registerViewRoutes(app, deps.pool);
  registerStatusRoutes(app, deps.pool, requireLogin);
  registerRunRoutes(app, runs);
  app.addHook('onClose', async () => {
    if (!deps.runs) await runs.close();
  });
  if (deps.warm) {
    await views.warm();
    // The runs panel's first answer reads a fortnight of histories: do it now, not for the first visitor.
    void runs.latest();
  }
  return app;
}

/** Refuses to start on a database the migrations have not reached, naming the command that fixes it. */
export async function checkSchema(pool: Pool): Promise<void> {
  const wanted = [
    'mvw_dashboard_heatmap',
    'mvw_dashboard_repair_priority',
    'segment_repair_status_history',
    'dashboard_snapshot',
    'segment_repair_check_current',
    'pothole_monthly_rollups',
  ];
  const { rows } = await pool.query<{ name: string; found: string | null }>(
    'SELECT name, to_regclass(name)::text AS found FROM unnest($1::text[]) AS name',
    [wanted],
  );
  const missing = rows.filter((r) => r.found === null).map((r) => r.name);
  if (missing.length > 0) {
    throw new Error(
      `the database lacks ${missing.join(', ')}: apply the migrations with "npx pothole db migrate"`,
    );
  }
}

export interface RunningDashboard {
  url: string;
  close(): Promise<void>;
}

/** `pothole dashboard`: validates the configuration, checks the database, listens. */
export async function startDashboard(env = readEnv()): Promise<RunningDashboard> {
  const config = loadConfig(SECTIONS_FOR.dashboard, env);
  const pool = createPool(config.postgres, { applicationName: 'pothole-dashboard' });
  try {
    await checkSchema(pool);
    const app = await buildDashboard({
      pool,
      dashboard: config.dashboard,
      temporal: config.temporal,
      warm: true,
    });
    await app.listen({ host: config.dashboard.DASHBOARD_HOST, port: config.dashboard.DASHBOARD_PORT });
    const host = config.dashboard.DASHBOARD_HOST;
    const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
    return {
      url: `http://${shown}:${config.dashboard.DASHBOARD_PORT}/`,
      async close() {
        await app.close();
        await pool.end();
      },
    };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
