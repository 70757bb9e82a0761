/** Check 7: the serving database answers, the login works, and every shipped migration is applied. */
import { databaseLabel, isDatabaseUnavailable } from '../../activities/database';
import { migrationStatus } from '../../db/migrate';
import { createPool } from '../../db/pool';
import { ok, problem, type Check } from './check';

const NAME = 'postgresql';
const UNREACHABLE_FIX =
  'start PostgreSQL (locally: npm run stack:up), or fix POSTGRES_HOST / POSTGRES_PORT (or DATABASE_URL)';

export const postgresCheck: Check = {
  name: NAME,
  needs: ['postgres'],
  unreachableFix: UNREACHABLE_FIX,
  async run(ctx) {
    const config = ctx.section('postgres');
    const label = databaseLabel(config);
    const pool = createPool(config, { max: 1, applicationName: 'pothole-doctor' });
    ctx.onClose(() => pool.end());
    let status;
    try {
      status = await migrationStatus(pool);
    } catch (err) {
      const e = err as { code?: string; message?: string };
      const message = e.message ?? String(err);
      if (isDatabaseUnavailable(err, config)) {
        return [problem(NAME, `${label} is not reachable: ${message}`, UNREACHABLE_FIX)];
      }
      if (e.code === '28P01' || e.code === '28000') {
        return [
          problem(
            NAME,
            `${label} refused the login: ${message}`,
            'check POSTGRES_USER and POSTGRES_PASSWORD',
          ),
        ];
      }
      if (e.code === '3D000') {
        return [
          problem(
            NAME,
            `${label}: ${message}`,
            'fix POSTGRES_DB, or create the database (owned by POSTGRES_USER), then run pothole db migrate',
          ),
        ];
      }
      return [problem(NAME, `${label}: ${message}`, UNREACHABLE_FIX)];
    }
    if (status.pending.length > 0) {
      return [
        problem(
          NAME,
          `${label}: ${status.pending.length} migration(s) not applied: ${status.pending.join(', ')}`,
          'pothole db migrate',
        ),
      ];
    }
    const notes = [
      ...(status.changed.length ? [`changed since applied: ${status.changed.join(', ')}`] : []),
      ...(status.unknown.length ? [`applied but not shipped here: ${status.unknown.join(', ')}`] : []),
    ];
    return [
      ok(
        NAME,
        `${label} reachable; all ${status.applied} migration(s) applied` +
          (notes.length ? ` (note: ${notes.join('; ')})` : ''),
      ),
    ];
  },
};
