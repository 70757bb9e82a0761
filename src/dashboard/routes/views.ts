/**
 * Read-only APIs over the views: the map (its segments, and what is marked on them), a segment's popup, the repair-priority list (and its CSV), the trends
 * (7 days and 12 months), with each segment's repair check where it has one.
 */
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import negotiate from '@fastify/accept-negotiator';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Pool } from 'pg';
import { z } from 'zod';
import { priorityCsv } from '../csv';
import {
  changedStatuses,
  districts,
  latestDate,
  mapSegments,
  priorityPage,
  priorityRows,
  segmentDetail,
  trend,
  type PriorityFilter,
} from '../queries';
import { checkVerdicts, networkTrend, REPAIR_VERDICTS, repairCheck, segmentTrend } from '../repair-check';
import { REPAIR_STATUSES, statusHistory } from '../status';
import { ViewCache } from '../view-cache';

/** How often a warmed server looks for a refresh of the views. */
export const REFILL_CHECK_MS = 10_000;

const gzip = promisify(zlib.gzip);

/**
 * An answer that stays the same for a whole generation of the views (the map's segments: a few MB at national
 * scale), prepared once when the generation is first read: gzipped once instead of at every request, and named by
 * an ETag, so a page loaded again the same day revalidates it (304) instead of downloading it again.
 */
interface PreparedAnswer {
  body: string;
  gzip: Buffer;
  etag: string;
}

async function prepare(body: string): Promise<PreparedAnswer> {
  return {
    body,
    // Level 4: within a few percent of the best level's size at a tenth of its time (4 MB: ~60 ms, not ~550 ms),
    // which a visitor arriving during the refill would wait for.
    gzip: await gzip(body, { level: 4 }),
    etag: `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

/** Whether If-None-Match names this ETag (a list, weak forms and `*` included). */
function notModified(req: FastifyRequest, etag: string): boolean {
  const header = req.headers['if-none-match'];
  if (!header) return false;
  return header.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t === etag || t === `W/${etag}`;
  });
}

const text = (max: number) =>
  z
    .string()
    .trim()
    .max(max, `at most ${max} characters`)
    .optional()
    .transform((v) => v || undefined);

const filterSchema = z.object({
  district: text(100),
  status: z.enum(REPAIR_STATUSES, { error: `must be one of ${REPAIR_STATUSES.join(', ')}` }).optional(),
  check: z.enum(REPAIR_VERDICTS, { error: `must be one of ${REPAIR_VERDICTS.join(', ')}` }).optional(),
  q: text(100),
});
const pageSchema = filterSchema.extend({
  limit: z.coerce.number().int().min(1).max(500).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** Parses a query string, or answers 400 naming every bad parameter. */
function parse<T>(schema: z.ZodType<T>, query: unknown): T {
  const result = schema.safeParse(query);
  if (result.success) return result.data;
  const message = result.error.issues.map((i) => `${String(i.path[0] ?? 'query')} ${i.message}`).join('; ');
  throw Object.assign(new Error(message), { statusCode: 400 });
}

const toFilter = (q: z.output<typeof filterSchema>): PriorityFilter => ({
  district: q.district,
  status: q.status,
  check: q.check,
  search: q.q,
});

/**
 * Registers the routes. `warm` fills their caches (at start, so the first visitor does not wait) and from then on
 * refills them the moment a refresh of the views commits (its notification), or within REFILL_CHECK_MS of it when
 * the notification was missed.
 */
export function registerViewRoutes(app: FastifyInstance, pool: Pool): { warm(): Promise<void> } {
  const cache = new ViewCache(pool);
  const cached = {
    mapSegments: () => cache.get('map', async () => prepare(await mapSegments(pool))),
    trend: () => cache.get('trend', () => trend(pool)),
    districts: () => cache.get('districts', () => districts(pool)),
    months: () => cache.get('months', () => networkTrend(pool)),
  };

  // The latest day's segments as columns, the same until the next refresh: ready-made JSON from PostgreSQL, never
  // parsed here, sent gzipped as prepared (the compression plugin leaves it alone) or revalidated.
  app.get('/api/map/segments', { compress: false }, async (req, reply) => {
    const answer = await cached.mapSegments();
    void reply
      .type('application/json; charset=utf-8')
      .header('ETag', answer.etag)
      .header('Cache-Control', 'no-cache')
      .header('Vary', 'Accept-Encoding');
    if (notModified(req, answer.etag)) return reply.code(304).send();
    if (negotiate(req.headers['accept-encoding'] ?? '', ['gzip', 'identity']) === 'gzip') {
      void reply.header('Content-Encoding', 'gzip');
      return answer.gzip;
    }
    return answer.body;
  });

  // What is marked on the map, fresh at every request (a status changes with a click): the segments whose status
  // is not the first, and the repair checks' verdicts.
  app.get('/api/map', async () => {
    const [statuses, checks] = await Promise.all([changedStatuses(pool), checkVerdicts(pool)]);
    return { statuses, checks };
  });

  app.get<{ Params: { id: string } }>('/api/segments/:id', async (req, reply) => {
    const detail = await segmentDetail(pool, req.params.id);
    if (!detail)
      return reply.code(404).send({ error: `segment "${req.params.id}" is not on the latest day's map` });
    const [history, check, months] = await Promise.all([
      statusHistory(pool, req.params.id, 5),
      repairCheck(pool, req.params.id),
      segmentTrend(pool, req.params.id, detail.date),
    ]);
    return { ...detail, history, repair_check: check, months };
  });

  app.get('/api/priority', async (req) => {
    const q = parse(pageSchema, req.query);
    const [page, names] = await Promise.all([
      priorityPage(pool, toFilter(q), { limit: q.limit, offset: q.offset }),
      cached.districts(),
    ]);
    return { ...page, districts: names, limit: q.limit, offset: q.offset };
  });

  app.get('/api/priority.csv', async (req, reply) => {
    const q = parse(filterSchema, req.query);
    const [rows, date] = await Promise.all([priorityRows(pool, toFilter(q)), latestDate(pool)]);
    void reply
      .type('text/csv; charset=utf-8')
      .header('Content-Disposition', `attachment; filename="repair-priority-${date ?? 'none'}.csv"`);
    return priorityCsv(rows);
  });

  app.get('/api/trend', async () => cached.trend());
  app.get('/api/trend/months', async () => cached.months());

  const fill = () =>
    Promise.all([
      cached.mapSegments(),
      cached.trend(),
      cached.districts(),
      cached.months(),
      priorityPage(pool, {}, { limit: 1, offset: 0 }),
    ]);
  app.addHook('onClose', async () => cache.stop());
  return {
    async warm() {
      await fill();
      cache.watch(REFILL_CHECK_MS, fill);
    },
  };
}
