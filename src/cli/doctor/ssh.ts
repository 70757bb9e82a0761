/**
 * Check 4: an SSH login to the master with its host key verified against SSH_KNOWN_HOSTS_PATH, exactly as the
 * cluster steps connect. The master is reached at SSH_HOST when set (the local stack, tunnels), else at its
 * private IP, which only a running instance has: a stopped master is not started to check it.
 */
import fs from 'node:fs';
import type { SshConfig } from '../../config';
import { entryMatchesHost, hostLookupName, parseKnownHosts } from '../../activities/known-hosts';
import { createSshExecutor, HostKeyVerificationError, SshConnectionError } from '../../activities/remote';
import { ok, problem, skipped, type Check } from './check';

const NAME = 'ssh to the master';

export const sshCheck: Check = {
  name: NAME,
  needs: ['ssh'],
  unreachableFix: 'check that the master is up and that SSH_PORT is open to this machine',
  async run(ctx, signal) {
    const ssh = ctx.section('ssh');
    let address = ssh.SSH_HOST;
    if (!address) {
      const invalid = (['aws', 'cluster'] as const).filter((s) => ctx.invalid.has(s));
      if (invalid.length) {
        return [
          skipped(NAME, `finding the master needs the ${invalid.join(', ')} settings, which are invalid`),
        ];
      }
      const master = await ctx.cluster().then(
        (all) => all.find((i) => i.role === 'master'),
        () => undefined,
      );
      if (!master)
        return [skipped(NAME, 'the cluster instances could not be described (see cluster instances)')];
      if (master.state !== 'running' || !master.privateIp) {
        return [
          skipped(
            NAME,
            `the master ${master.id} is ${master.state}: SSH can only be checked while it runs ` +
              '(the doctor does not start it)',
          ),
        ];
      }
      address = master.privateIp;
    }
    const target = `${ssh.SSH_USER}@${address}:${ssh.SSH_PORT}`;
    const timeoutMs = Math.max(1_000, ctx.options.timeoutMs - 1_000);
    try {
      await createSshExecutor(ssh, { readyTimeoutMs: timeoutMs }).probe(address, { timeoutMs, signal });
    } catch (err) {
      if (err instanceof HostKeyVerificationError) {
        return [problem(NAME, err.message, hostKeyFix(ssh, address))];
      }
      if (err instanceof SshConnectionError) {
        return [
          problem(
            NAME,
            err.message,
            `check that sshd runs on ${address}:${ssh.SSH_PORT} and is reachable from here, and that the public ` +
              `key of SSH_PRIVATE_KEY_PATH is in ~${ssh.SSH_USER}/.ssh/authorized_keys there`,
          ),
        ];
      }
      throw err;
    }
    return [ok(NAME, `${target} logged in; host key matches ${ssh.SSH_KNOWN_HOSTS_PATH}`)];
  },
};

/** Add the host's key, or replace the entry that no longer matches; always after checking the fingerprint. */
function hostKeyFix(ssh: SshConfig, host: string): string {
  const file = ssh.SSH_KNOWN_HOSTS_PATH;
  const scan = `ssh-keyscan ${ssh.SSH_PORT === 22 ? '' : `-p ${ssh.SSH_PORT} `}${host} >> ${file}`;
  let listed: boolean;
  try {
    listed = parseKnownHosts(fs.readFileSync(file, 'utf8')).entries.some((e) =>
      entryMatchesHost(e, host, ssh.SSH_PORT),
    );
  } catch {
    return `create ${file} with the master's host key, from a trusted network: ${scan}`;
  }
  const verify =
    "compare the fingerprint above with the master's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on it)";
  return listed
    ? `${verify}; if the master was rebuilt, replace its entry: ssh-keygen -R '${hostLookupName(host, ssh.SSH_PORT)}' -f ${file} && ${scan}`
    : `${verify}, then add it: ${scan}`;
}
