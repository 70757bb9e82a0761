/**
 * PostgreSQL errors as the serving steps report them: an error that says the database cannot be reached
 * becomes a retryable `DatabaseUnavailable` failure naming the database (host:port/db, never the password),
 * so the run's failure says where to look when the retry window runs out. An error that retrying cannot fix (a
 * missing table, a refused login, bad data) fails the step at once as `DatabaseError`, instead of being retried
 * for the whole window. Other errors (deadlocks, lock timeouts, …) are left to the retry policy.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { PostgresConfig } from '../config';

/** host:port/db of the serving database, from DATABASE_URL or the POSTGRES_* settings; no credentials. */
export function databaseLabel(config: PostgresConfig): string {
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString.reveal());
      return `${url.hostname}:${url.port || '5432'}${url.pathname || '/'}`;
    } catch {
      return 'the database of DATABASE_URL';
    }
  }
  return `${config.host}:${config.port}/${config.database}`;
}

function databasePort(config: PostgresConfig): number {
  if (!config.connectionString) return config.port;
  try {
    return Number(new URL(config.connectionString.reveal()).port || 5432);
  } catch {
    return 5432;
  }
}

/**
 * SQLSTATEs of a server that is going away or not taking connections: connection exceptions (08…),
 * admin/crash shutdown, "the database system is starting up", too many connections.
 */
const UNAVAILABLE_SQLSTATES = /^(08...|57P01|57P02|57P03|53300)$/;
/**
 * SQLSTATE classes no retry can fix: data exceptions (22), integrity constraints (23), invalid authorization (28),
 * syntax errors and access rules (42: a missing table or column, a missing privilege).
 */
const PERMANENT_SQLSTATES = /^(22|23|28|42)...$/;
/** What node-postgres says when the socket goes away or the pool cannot connect in time. */
const UNAVAILABLE_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect)/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  port?: unknown;
  errors?: unknown;
}

/**
 * True when the error says PostgreSQL cannot be reached. A network error counts only when it is about the
 * database's port: load_to_rdb also talks to S3, whose outages must not be reported as the database's.
 */
export function isDatabaseUnavailable(err: unknown, config: PostgresConfig): boolean {
  const e = (err ?? {}) as ErrorLike;
  if (typeof e.code === 'string' && UNAVAILABLE_SQLSTATES.test(e.code)) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.test(e.message)) return true;
  const port = databasePort(config);
  const attempts = Array.isArray(e.errors) ? (e.errors as ErrorLike[]) : [e];
  return attempts.some((a) => typeof a.code === 'string' && NETWORK_CODES.has(a.code) && a.port === port);
}

/** The failure a serving step throws for an error; unchanged unless the database is unavailable or it is permanent. */
export function asDatabaseFailure(err: unknown, config: PostgresConfig): unknown {
  if (err instanceof ApplicationFailure || err instanceof CancelledFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as ErrorLike | undefined)?.code;
  if (typeof code === 'string' && PERMANENT_SQLSTATES.test(code)) {
    return ApplicationFailure.nonRetryable(
      `PostgreSQL ${databaseLabel(config)}: ${message} (SQLSTATE ${code})`,
      'DatabaseError',
    );
  }
  if (!isDatabaseUnavailable(err, config)) return err;
  return ApplicationFailure.retryable(
    `PostgreSQL ${databaseLabel(config)} is unavailable: ${message}`,
    'DatabaseUnavailable',
  );
}

/** Wraps each activity so a database outage surfaces as a DatabaseUnavailable failure naming the database. */
export function reportingDatabaseOutages<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
  config: PostgresConfig,
): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    wrapped[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw asDatabaseFailure(err, config);
      }
    };
  }
  return wrapped as T;
}
