/** The one write: a segment's repair status (POST /api/segments/:id/status), and its history. */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { Pool } from 'pg';
import { changeRepairStatus, parseStatusChange, StatusChangeError, statusHistory } from '../status';

export function registerStatusRoutes(
  app: FastifyInstance,
  pool: Pool,
  requireLogin: onRequestHookHandler[],
): void {
  app.post<{ Params: { id: string } }>(
    '/api/segments/:id/status',
    { onRequest: requireLogin },
    async (req, reply) => {
      try {
        const request = parseStatusChange(req.params.id, req.body);
        const user = requireLogin.length > 0 ? basicAuthUser(req.headers.authorization) : null;
        return await changeRepairStatus(pool, req.params.id, request, user);
      } catch (err) {
        if (!(err instanceof StatusChangeError)) throw err;
        return reply.code(err.statusCode).send({ error: err.message, field: err.field });
      }
    },
  );

  app.get<{ Params: { id: string } }>('/api/segments/:id/history', async (req) => ({
    s_id: req.params.id,
    history: await statusHistory(pool, req.params.id, 50),
  }));
}

/** The user name of a Basic Authorization header the login check has already accepted. */
function basicAuthUser(header: string | undefined): string | null {
  const encoded = /^Basic\s+(.+)$/i.exec(header ?? '')?.[1];
  if (!encoded) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  return decoded.slice(0, Math.max(0, decoded.indexOf(':'))) || null;
}
