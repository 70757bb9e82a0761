/**
 * Read-only APIs over the views: the map, a segment's popup, the repair-priority list (and its CSV), the trends
 * (7 days and 12 months), with each segment's repair check where it has one.
 */
import type { FastifyInstance } from 'fastify';
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
    map: () => cache.get('map', () => mapSegments(pool)),
    trend: () => cache.get('trend', () => trend(pool)),
    districts: () => cache.get('districts', () => districts(pool)),
    months: () => cache.get('months', () => networkTrend(pool)),
  };

  app.get('/api/map', async (_req, reply) => {
    const [segments, statuses, checks] = await Promise.all([
      cached.map(),
      changedStatuses(pool),
      checkVerdicts(pool),
    ]);
    // The segments' JSON comes ready-made from PostgreSQL: spliced in, never parsed.
    void reply.type('application/json; charset=utf-8');
    return `{"segments":${segments},"statuses":${JSON.stringify(statuses)},"checks":${JSON.stringify(checks)}}`;
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
      cached.map(),
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
