/**
 * The field helpers every setting is written with: one reading of a switch for every boolean setting, and the
 * memory sizes handed to Spark and PostgreSQL checked at start in the syntax each of them reads.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { ConfigError, loadConfig, type SectionName } from '../../../src/config';
import { parseBoolean } from '../../../src/config/fields';
import { sections } from '../../../src/config/sections';

function problems(section: SectionName, env: Record<string, string>): string[] {
  try {
    loadConfig([section], env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  return [];
}

/** Every setting's own schema, by name, with its section. */
function settingFields(): { name: string; section: SectionName; field: z.ZodType }[] {
  return Object.entries(sections).flatMap(([section, schema]) => {
    let inner: z.ZodType = schema;
    while (inner instanceof z.ZodPipe) inner = inner.in as z.ZodType;
    const shape = (inner as z.ZodObject).shape as Record<string, z.ZodType>;
    return Object.entries(shape).map(([name, field]) => ({ name, section: section as SectionName, field }));
  });
}

/** The settings whose value is a switch: those that read "true" as the boolean true. */
const booleanSettings = settingFields().filter(({ field }) => field.safeParse('true').data === true);

describe('switches', () => {
  it('are found among the settings: SPARK_HISTORY_SERVER, COMPLAINTS_NIGHTLY, TEMPORAL_TLS', () => {
    const names = booleanSettings.map((s) => s.name);
    for (const name of ['SPARK_HISTORY_SERVER', 'COMPLAINTS_NIGHTLY', 'TEMPORAL_TLS']) {
      assert.ok(names.includes(name), `${name} among ${names.join(', ')}`);
    }
  });

  it('every one reads true/false, yes/no, on/off and 1/0 in any case', () => {
    const words: [string, boolean][] = [
      ['true', true],
      ['TRUE', true],
      ['Yes', true],
      ['on', true],
      ['1', true],
      ['false', false],
      ['FALSE', false],
      ['no', false],
      ['Off', false],
      ['0', false],
      [' no ', false],
    ];
    for (const { name, field } of booleanSettings) {
      for (const [word, value] of words) {
        assert.equal(field.parse(word), value, `${name}=${word}`);
      }
    }
  });

  it('every one refuses anything else, naming the setting and the value', () => {
    for (const { name, section } of booleanSettings) {
      for (const word of ['maybe', 'y', 'enabled', '2', 'nein']) {
        assert.deepEqual(
          problems(section, { [name]: word }).filter((p) => p.startsWith(name)),
          [`${name} must be true or false (yes/no, on/off, 1/0), got "${word}"`],
        );
      }
    }
  });

  it('SPARK_HISTORY_SERVER=false, no, off or FALSE turns the history server off', () => {
    for (const word of ['false', 'no', 'off', 'FALSE']) {
      assert.equal(loadConfig(['spark'], { SPARK_HISTORY_SERVER: word }).spark.SPARK_HISTORY_SERVER, false);
    }
    assert.equal(loadConfig(['spark'], {}).spark.SPARK_HISTORY_SERVER, true, 'on unless set');
  });

  it('COMPLAINTS_NIGHTLY=yes needs the API key as true does; =off does not', () => {
    assert.deepEqual(problems('complaints', { COMPLAINTS_NIGHTLY: 'yes' }), [
      'COMPLAINTS_API_KEY is required when COMPLAINTS_NIGHTLY is true',
    ]);
    assert.deepEqual(problems('complaints', { COMPLAINTS_NIGHTLY: 'off' }), []);
  });

  it('one reading for checks on the raw settings too', () => {
    assert.equal(parseBoolean('On'), true);
    assert.equal(parseBoolean('0'), false);
    assert.equal(parseBoolean(''), undefined);
    assert.equal(parseBoolean('nope'), undefined);
  });
});

describe('memory sizes for Spark', () => {
  const spark = (env: Record<string, string>) => loadConfig(['spark'], env).spark;

  it('are JVM memory strings, a whole number and k, m, g or t in any case', () => {
    const s = spark({ SPARK_DRIVER_MEMORY: '512m', SPARK_EXECUTOR_MEMORY: '8G' });
    assert.equal(s.SPARK_DRIVER_MEMORY, '512m');
    assert.equal(s.SPARK_EXECUTOR_MEMORY, '8G');
    assert.equal(spark({ SPARK_DRIVER_MEMORY: '1t' }).SPARK_DRIVER_MEMORY, '1t');
    assert.deepEqual([spark({}).SPARK_DRIVER_MEMORY, spark({}).SPARK_EXECUTOR_MEMORY], ['2g', '4g']);
  });

  it('anything else is refused at start, naming the setting: the driver JVM would not start with it', () => {
    for (const size of ['2gb', '2 g', '1.5g', '2048', '2GiB', 'lots', '0g']) {
      for (const name of ['SPARK_DRIVER_MEMORY', 'SPARK_EXECUTOR_MEMORY']) {
        assert.deepEqual(problems('spark', { [name]: size }), [
          `${name} must be a Spark memory size, a whole number and a unit k, m, g or t (e.g. 512m, 2g), got "${size}"`,
        ]);
      }
    }
  });
});

describe('memory sizes for PostgreSQL', () => {
  const workMem = (size: string) =>
    loadConfig(['postgres'], { POSTGRES_PASSWORD: 'x', POSTGRES_LOAD_MAINTENANCE_WORK_MEM: size }).postgres
      .loadMaintenanceWorkMem;
  const refusal = (size: string) =>
    problems('postgres', { POSTGRES_PASSWORD: 'x', POSTGRES_LOAD_MAINTENANCE_WORK_MEM: size });

  it("are PostgreSQL's own: a number and B, kB, MB, GB or TB, a bare number being kB", () => {
    for (const size of ['512MB', '1GB', '1024kB', '65536', '1.5GB', '512 MB', '1TB', '1048576B']) {
      assert.equal(workMem(size), size);
    }
    assert.equal(
      loadConfig(['postgres'], { POSTGRES_PASSWORD: 'x' }).postgres.loadMaintenanceWorkMem,
      '256MB',
    );
  });

  it("anything else is refused at start: PostgreSQL's units are case-sensitive and the range is 1MB to 2TB", () => {
    for (const size of ['512mb', '512KB', '1 G', '100kB', '0MB', '3TB', "1GB'; DROP TABLE x; --", '-1MB']) {
      assert.deepEqual(refusal(size), [
        'POSTGRES_LOAD_MAINTENANCE_WORK_MEM must be a PostgreSQL memory size from 1MB to 2TB, a number and a unit ' +
          `B, kB, MB, GB or TB (e.g. 512MB, 1GB), got "${size}"`,
      ]);
    }
  });
});

describe('the serving history settings', () => {
  const base = { POSTGRES_PASSWORD: 'x' };
  it('REPAIR_EFFECT_MIN_DROP reads 70 and 70 % alike; SERVING_KEEP_DAYS and REPAIR_CHECK_* have their defaults', () => {
    const read = (v: string) =>
      loadConfig(['postgres'], { ...base, REPAIR_EFFECT_MIN_DROP: v }).postgres.history;
    assert.equal(read('70').repairEffectMinDropPercent, 70);
    assert.equal(read('70%').repairEffectMinDropPercent, 70);
    assert.equal(read('12.5 %').repairEffectMinDropPercent, 12.5);
    assert.deepEqual(loadConfig(['postgres'], base).postgres.history, {
      keepDays: 400,
      repairCheckDays: 14,
      repairCheckMinTraffic: 200,
      repairEffectMinDropPercent: 70,
    });
  });

  it('refuses a share that is no percentage, and lists every bad setting at once', () => {
    assert.deepEqual(
      problems('postgres', {
        ...base,
        REPAIR_EFFECT_MIN_DROP: '0',
        SERVING_KEEP_DAYS: '-1',
        REPAIR_CHECK_DAYS: 'two weeks',
      }),
      [
        'REPAIR_CHECK_DAYS must be a positive integer, got "two weeks"',
        'REPAIR_EFFECT_MIN_DROP must be a percentage above 0 and at most 100 (e.g. 70 or 70%), got "0"',
        'SERVING_KEEP_DAYS must be a positive integer, got "-1"',
      ],
    );
    for (const bad of ['150', '%', 'seventy', '0.7.0'])
      assert.match(
        problems('postgres', { ...base, REPAIR_EFFECT_MIN_DROP: bad })[0] ?? '',
        /REPAIR_EFFECT_MIN_DROP must be a percentage/,
      );
  });
});
