/** 5xx answers: no internal message (SQL, addresses) leaves the server, only a request id the log files it under. */
import type { FastifyReply } from 'fastify';

/** Answers `code` with what happened in general words and the request id; the caller has logged the detail. */
export function serverError(reply: FastifyReply, code: 500 | 503, what: string, extra: object = {}) {
  const id = reply.request.id;
  return reply.code(code).send({
    ...extra,
    error: `${what} (the dashboard's log has the detail under request id ${id})`,
    requestId: id,
  });
}
