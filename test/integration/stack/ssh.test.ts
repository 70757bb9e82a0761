import { test } from 'node:test';
import assert from 'node:assert/strict';
import { utils } from 'ssh2';
import { sshConnect, sshExec, stackConfig, stackSshTarget } from '../../support/stack';

test('ssh2 logs in with the stack key, verifies the host key and runs a command with Java and Spark on PATH', async () => {
  const { ssh, spark } = stackConfig(['ssh', 'spark']);
  const client = await sshConnect(stackSshTarget());
  try {
    const result = await sshExec(
      client,
      'id -un; echo "$SPARK_HOME"; command -v java python3 spark-submit >/dev/null && echo tools-found; exit 7',
    );
    assert.equal(result.code, 7, `stderr: ${result.stderr}`);
    assert.deepEqual(result.stdout.trim().split('\n'), [ssh.SSH_USER, spark.SPARK_HOME, 'tools-found']);
  } finally {
    client.end();
  }
});

test('a known_hosts entry with a different key for the host is refused before logging in', async () => {
  const target = stackSshTarget();
  const impostor = utils.generateKeyPairSync('ed25519');
  const wrongKnownHosts = `[${target.host}]:${target.port} ${impostor.public}\n`;
  await assert.rejects(sshConnect({ ...target, knownHosts: wrongKnownHosts }), (err: Error) => {
    assert.match(err.message, /host key of .* is not in known_hosts/);
    return true;
  });
});

test('a known_hosts file without the host is refused too', async () => {
  const target = stackSshTarget();
  const otherHostOnly = target.knownHosts.replaceAll(`[${target.host}]:${target.port}`, '[192.0.2.1]:2222');
  await assert.rejects(sshConnect({ ...target, knownHosts: otherHostOnly }), /is not in known_hosts/);
});
