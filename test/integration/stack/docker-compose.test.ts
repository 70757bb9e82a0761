import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../support/stack';

interface ComposeService {
  image: string;
  ports?: (string | { published: string | number; target: number; host_ip?: string })[];
  volumes?: (string | { source: string; target: string; type: string })[];
  depends_on?: string[] | Record<string, { condition: string }>;
}
interface Compose {
  services: Record<string, ComposeService>;
}

const composeFile = path.join(REPO_ROOT, 'docker-compose.yml');

/** The file as Compose itself resolves it (docker-compose from Debian), falling back to the YAML when absent. */
function resolvedCompose(): { compose: Compose; by: string } {
  const probe = spawnSync('docker-compose', ['version', '--short'], { encoding: 'utf8' });
  if (probe.status === 0) {
    const out = execFileSync('docker-compose', ['-f', composeFile, 'config'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    return { compose: parse(out) as Compose, by: `docker-compose ${probe.stdout.trim()}` };
  }
  return { compose: parse(fs.readFileSync(composeFile, 'utf8')) as Compose, by: 'yaml' };
}

/** host port -> service, for ports published as "127.0.0.1:host:container" (short or long syntax). */
function publishedPorts(compose: Compose): Map<number, { service: string; hostIp: string | undefined }> {
  const out = new Map<number, { service: string; hostIp: string | undefined }>();
  for (const [service, def] of Object.entries(compose.services)) {
    for (const p of def.ports ?? []) {
      if (typeof p === 'string') {
        const parts = p.split(':');
        out.set(Number(parts.at(-2)), { service, hostIp: parts.length === 3 ? parts[0] : undefined });
      } else {
        out.set(Number(p.published), { service, hostIp: p.host_ip });
      }
    }
  }
  return out;
}

test('docker-compose.yml is valid Compose and offers every service of the local stack on its port', () => {
  const { compose, by } = resolvedCompose();
  const ports = publishedPorts(compose);
  const expected: Record<number, string> = {
    7233: 'temporal',
    8233: 'temporal',
    55432: 'postgres',
    4566: 'moto',
    2525: 'mailpit',
    8025: 'mailpit',
    7077: 'spark-master',
    8080: 'spark-master',
    8501: 'dashboard',
  };
  for (const [port, service] of Object.entries(expected)) {
    assert.equal(
      ports.get(Number(port))?.service,
      service,
      `port ${port} should be ${service} (checked by ${by})`,
    );
  }
  const workers = Object.keys(compose.services).filter((s) => s.startsWith('spark-worker'));
  assert.ok(workers.length >= 1, 'at least one Spark worker');
});

test('every published port is bound to 127.0.0.1 and every image is pinned to a version', () => {
  const { compose } = resolvedCompose();
  for (const [port, { service, hostIp }] of publishedPorts(compose)) {
    assert.equal(hostIp, '127.0.0.1', `${service} publishes ${port} beyond loopback`);
  }
  for (const [service, def] of Object.entries(compose.services)) {
    assert.match(def.image, /:[\w.-]+$/, `${service} has no image tag`);
    assert.doesNotMatch(def.image, /:latest$/, `${service} uses :latest`);
  }
});

test('the files docker-compose.yml mounts exist in the repository', () => {
  const { compose } = resolvedCompose();
  for (const [service, def] of Object.entries(compose.services)) {
    for (const v of def.volumes ?? []) {
      const source = typeof v === 'string' ? v.split(':')[0]! : v.type === 'bind' ? v.source : '';
      if (!source.startsWith('.') && !source.startsWith('/')) continue;
      assert.ok(fs.existsSync(path.resolve(REPO_ROOT, source)), `${service} mounts missing ${source}`);
    }
  }
});
