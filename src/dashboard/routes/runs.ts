/** The pipeline panel's API: the latest runs, or 503 naming why Temporal could not be read. */
import type { FastifyInstance } from 'fastify';
import type { RunsPanel } from '../runs';

export function registerRunRoutes(app: FastifyInstance, runs: RunsPanel): void {
  app.get('/api/runs', async (_req, reply) => {
    const answer = await runs.latest();
    return reply.code(answer.available ? 200 : 503).send(answer);
  });
}
