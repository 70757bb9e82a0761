/**
 * OpenSSH known_hosts parsing and host-key checking, as `ssh` does with StrictHostKeyChecking=yes:
 * plain and wildcard patterns, negations, `[host]:port` entries, hashed `|1|salt|hash` entries and
 * `@revoked` keys. `@cert-authority` lines are recognised but not used (we do not accept host certificates).
 */
import crypto from 'node:crypto';

export interface KnownHostEntry {
  /** 1-based line number in the file, for messages. */
  line: number;
  marker?: 'cert-authority' | 'revoked';
  /** Comma-separated host patterns, or undefined for a hashed entry. */
  patterns?: string[];
  hashed?: { salt: Buffer; hash: Buffer };
  keyType: string;
  /** The public key blob (SSH wire format), as the server presents it. */
  key: Buffer;
}

export interface ParsedKnownHosts {
  entries: KnownHostEntry[];
  /** Lines that could not be parsed (reported, never silently trusted). */
  invalidLines: number[];
}

export function parseKnownHosts(text: string): ParsedKnownHosts {
  const entries: KnownHostEntry[] = [];
  const invalidLines: number[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const m = fields.shift();
      if (m === '@cert-authority') marker = 'cert-authority';
      else if (m === '@revoked') marker = 'revoked';
      else {
        invalidLines.push(index + 1);
        return;
      }
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) {
      invalidLines.push(index + 1);
      return;
    }
    const key = Buffer.from(keyBase64, 'base64');
    if (key.length === 0 || keyTypeOf(key) !== keyType) {
      invalidLines.push(index + 1);
      return;
    }
    const entry: KnownHostEntry = { line: index + 1, marker, keyType, key };
    if (hosts.startsWith('|1|')) {
      const [, , salt, hash] = hosts.split('|');
      if (!salt || !hash) {
        invalidLines.push(index + 1);
        return;
      }
      entry.hashed = { salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
    } else {
      entry.patterns = hosts.split(',').filter(Boolean);
    }
    entries.push(entry);
  });
  return { entries, invalidLines };
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export function hostLookupName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .toLowerCase()
    .split('')
    .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

/** OpenSSH pattern-list semantics: a matching negated pattern vetoes the whole list. */
function matchesPatternList(name: string, patterns: string[]): boolean {
  let matched = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    if (globToRegExp(negated ? p.slice(1) : p).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

export function entryMatchesHost(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = hostLookupName(host, port);
  if (entry.hashed) {
    const digest = crypto.createHmac('sha1', entry.hashed.salt).update(name).digest();
    return digest.length === entry.hashed.hash.length && crypto.timingSafeEqual(digest, entry.hashed.hash);
  }
  return matchesPatternList(name, entry.patterns ?? []);
}

/** The key type named inside an SSH public key blob (its first string). */
function keyTypeOf(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** SHA256 fingerprint as `ssh-keygen -l` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${crypto.createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: string };

/** Decides whether `presented` is a trusted key for host:port according to the parsed file. */
export function verifyHostKey(
  knownHosts: ParsedKnownHosts,
  host: string,
  port: number,
  presented: Buffer,
  source = 'known_hosts',
): HostKeyVerdict {
  const name = hostLookupName(host, port);
  const presentedType = keyTypeOf(presented) ?? 'unknown';
  const matching = knownHosts.entries.filter((e) => entryMatchesHost(e, host, port));
  const revoked = knownHosts.entries.find((e) => e.marker === 'revoked' && e.key.equals(presented));
  if (revoked) {
    return {
      ok: false,
      reason: `the ${presentedType} host key of ${name} (${fingerprint(presented)}) is marked @revoked in ${source} line ${revoked.line}`,
    };
  }
  const plain = matching.filter((e) => e.marker === undefined);
  if (plain.some((e) => e.key.equals(presented))) return { ok: true };
  const scan = `ssh-keyscan ${port === 22 ? '' : `-p ${port} `}${host}`;
  if (plain.length === 0) {
    return {
      ok: false,
      reason:
        `${name} is not in ${source}: its ${presentedType} key is ${fingerprint(presented)}. ` +
        `Verify that fingerprint out of band, then add the host (e.g. \`${scan} >> ${source}\`)`,
    };
  }
  const sameType = plain.filter((e) => e.keyType === presentedType);
  if (sameType.length > 0) {
    return {
      ok: false,
      reason:
        `HOST KEY MISMATCH for ${name}: it presented ${presentedType} ${fingerprint(presented)} but ${source} ` +
        `line ${sameType.map((e) => e.line).join(',')} has a different key. Someone may be intercepting the ` +
        `connection, or the host was rebuilt; if the latter, replace the entry after verifying the new fingerprint`,
    };
  }
  return {
    ok: false,
    reason:
      `${name} presented a ${presentedType} key (${fingerprint(presented)}) but ${source} only has ` +
      `${[...new Set(plain.map((e) => e.keyType))].join(', ')} keys for it; add its ${presentedType} key after verifying it`,
  };
}

/** Key types known for a host, so the SSH client can prefer the algorithms we can actually verify. */
export function knownKeyTypes(knownHosts: ParsedKnownHosts, host: string, port: number): string[] {
  return [
    ...new Set(
      knownHosts.entries
        .filter((e) => e.marker === undefined && entryMatchesHost(e, host, port))
        .map((e) => e.keyType),
    ),
  ];
}
