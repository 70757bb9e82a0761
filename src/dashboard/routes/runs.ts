/** The pipeline panel's API: the latest runs, or 503 saying Temporal could not be read (the log says why). */
import type { FastifyInstance } from 'fastify';
import type { RunsPanel } from '../runs';
import { serverError } from '../errors';

export function registerRunRoutes(app: FastifyInstance, runs: RunsPanel): void {
  app.get('/api/runs', async (req, reply) => {
    const answer = await runs.latest();
    if (answer.available) return answer;
    req.log.warn({ reason: answer.error }, 'the runs panel cannot read Temporal');
    const what = answer.error.startsWith('cannot reach')
      ? 'the Temporal server cannot be reached'
      : 'the pipeline runs cannot be read from Temporal';
    return serverError(reply, 503, what, { available: false });
  });
}
