/** The migration runner against the local PostgreSQL, on throwaway databases. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { migrate, MIGRATIONS_DIR } from '../../../src/db/migrate';
import { createThrowawayDatabase, type ThrowawayDatabase } from '../activities/serving-support';

let db: ThrowawayDatabase;

before(async () => {
  db = await createThrowawayDatabase('migrate', { migrate: false });
});

after(async () => {
  await db?.drop();
});

async function columns(table: string): Promise<string[]> {
  const { rows } = await db.pool.query(
    `SELECT a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      WHERE c.relname = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [table],
  );
  return rows.map((r) => r.attname);
}

describe('migrate', () => {
  test('two runners at once on an empty database apply each migration exactly once', async () => {
    const [a, b] = await Promise.all([migrate(db.pool), migrate(db.pool)]);
    const files = fs
      .readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith('.sql'))
      .sort();
    assert.deepEqual([...a.applied, ...b.applied].sort(), files);
    const { rows } = await db.pool.query('SELECT version FROM schema_migrations ORDER BY version');
    assert.deepEqual(
      rows.map((r) => r.version),
      files.map((f) => f.slice(0, 3)),
    );
  });

  test('a second run is a no-op', async () => {
    const result = await migrate(db.pool);
    assert.deepEqual(result.applied, []);
    assert.equal(result.alreadyApplied.length, fs.readdirSync(MIGRATIONS_DIR).length);
    assert.deepEqual(result.changed, []);
  });

  // The views' columns are specified in views-columns.test.ts.
  test('the dashboards find their tables and columns under the original names', async () => {
    assert.deepEqual(await columns('pothole_segments'), [
      's_id',
      'centroid_lon',
      'centroid_lat',
      'date',
      'impact_count',
      'total_count',
      'created_at',
      'updated_at',
    ]);
    assert.deepEqual(await columns('segment_address'), [
      's_id',
      'road_name',
      'district',
      'centroid_lon',
      'centroid_lat',
      'updated_at',
    ]);
    assert.deepEqual(await columns('segment_road_grade'), ['s_id', 'link_id', 'road_grade']);
    // The original columns, then the dashboard's note and author of the current status (005).
    assert.deepEqual(await columns('segment_repair_status'), [
      's_id',
      'repair_status',
      'updated_at',
      'note',
      'updated_by',
    ]);
    assert.deepEqual(await columns('pothole_complaints'), [
      'id',
      'create_dt',
      'event_lat',
      'event_lon',
      'nearest_s_id',
      'distance_m',
      'created_at',
    ]);
  });

  test('pothole_segments is range-partitioned by date with the dashboard indexes', async () => {
    const { rows } = await db.pool.query(`SELECT pg_get_partkeydef('pothole_segments'::regclass) AS key`);
    assert.equal(rows[0].key, 'RANGE (date)');
    const { rows: idx } = await db.pool.query(
      `SELECT indexdef FROM pg_indexes WHERE tablename IN ('pothole_segments', 'pothole_complaints') ORDER BY 1`,
    );
    const defs = idx.map((r) => r.indexdef.replace(/ ON (ONLY )?public\./, ' ON '));
    for (const expected of [
      'CREATE INDEX idx_pothole_segments_date ON pothole_segments USING btree (date DESC)',
      'CREATE INDEX idx_pothole_segments_s_id ON pothole_segments USING btree (s_id)',
      'CREATE INDEX idx_pothole_segments_date_s_id ON pothole_segments USING btree (date DESC, s_id)',
      'CREATE INDEX idx_pothole_segments_impact ON pothole_segments USING btree (impact_count DESC)',
      'CREATE UNIQUE INDEX pothole_segments_pkey ON pothole_segments USING btree (s_id, date)',
      'CREATE INDEX idx_pothole_complaints_nearest_s_id ON pothole_complaints USING btree (nearest_s_id)',
      'CREATE INDEX idx_pothole_complaints_create_dt ON pothole_complaints USING btree (create_dt DESC)',
    ]) {
      assert.ok(defs.includes(expected), `missing: ${expected}\n have: ${defs.join('\n       ')}`);
    }
  });

  test('repair status defaults to 미보수 and refuses unknown states', async () => {
    await db.pool.query(`INSERT INTO segment_repair_status (s_id) VALUES ('S1')`);
    const { rows } = await db.pool.query(`SELECT repair_status FROM segment_repair_status WHERE s_id = 'S1'`);
    assert.equal(rows[0].repair_status, '미보수');
    await assert.rejects(
      db.pool.query(`INSERT INTO segment_repair_status (s_id, repair_status) VALUES ('S2', '모름')`),
      /check constraint/,
    );
    await assert.rejects(
      db.pool.query(`INSERT INTO segment_road_grade (s_id, road_grade) VALUES ('S2', 6)`),
      /check constraint/,
    );
  });

  describe('a failing migration', () => {
    let dir: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-'));
      for (const f of fs.readdirSync(MIGRATIONS_DIR))
        fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
      fs.writeFileSync(
        path.join(dir, '900_broken.sql'),
        'CREATE TABLE half_done (id int);\nSELECT * FROM table_that_does_not_exist;\n',
      );
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    test('is rolled back, not recorded, and named in the error', async () => {
      await assert.rejects(
        migrate(db.pool, dir),
        /migration 900_broken\.sql failed: .*table_that_does_not_exist/,
      );
      const { rows } = await db.pool.query(
        `SELECT to_regclass('half_done') AS t, (SELECT count(*)::int FROM schema_migrations WHERE version = '900') AS n`,
      );
      assert.deepEqual(rows[0], { t: null, n: 0 });
    });

    test('an edited applied migration is reported, not re-run', async () => {
      fs.rmSync(path.join(dir, '900_broken.sql'));
      fs.appendFileSync(path.join(dir, '001_tables.sql'), '\n-- edited\n');
      const result = await migrate(db.pool, dir);
      assert.deepEqual(result.applied, []);
      assert.deepEqual(result.changed, ['001_tables.sql']);
    });
  });
});
