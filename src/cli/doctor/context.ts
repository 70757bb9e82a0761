/**
 * What the doctor's checks share: every configuration section loaded on its own (so a broken one only
 * stops the checks that read it), the outside-system clients built once, the cluster's description (the
 * EC2 and SSH checks both need it), and the clean-up of everything opened.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import { ConfigError, loadConfig, type Config, type Env, type SectionName } from '../../config';
import { sections } from '../../config/sections';
import { createEc2Client, createS3Client } from '../../activities/aws-clients';
import { describeCluster, type ClusterInstance } from '../../activities/cluster';

export interface DoctorOptions {
  /** Post a test message to Slack (nothing is sent otherwise). */
  sendTest: boolean;
  /** Time limit of each check. */
  timeoutMs: number;
}

export const SECTION_NAMES = Object.keys(sections) as SectionName[];

export class DoctorContext {
  readonly config: Partial<Config> = {};
  /** Sections that did not validate, with their problems. */
  readonly invalid = new Map<SectionName, string[]>();
  readonly #closers: (() => Promise<unknown> | void)[] = [];
  #ec2?: EC2Client;
  #s3?: S3Client;
  #cluster?: Promise<ClusterInstance[]>;

  /**
   * `env` undefined: the settings could not be read at all (`readProblems` says why); every section is
   * then invalid.
   */
  constructor(
    env: Env | undefined,
    readonly options: DoctorOptions,
    readProblems: string[] = [],
  ) {
    for (const name of SECTION_NAMES) {
      if (!env) {
        this.invalid.set(name, readProblems);
        continue;
      }
      try {
        Object.assign(this.config, loadConfig([name], env));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        this.invalid.set(name, err.problems);
      }
    }
  }

  /** A section the check declared in `needs` (the runner has made sure it is valid). */
  section<S extends SectionName>(name: S): Config[S] {
    const value = this.config[name];
    if (value === undefined) throw new Error(`the ${name} settings are not available`);
    return value as Config[S];
  }

  ec2(): EC2Client {
    if (!this.#ec2) {
      const client = createEc2Client(this.section('aws'));
      this.onClose(() => client.destroy());
      this.#ec2 = client;
    }
    return this.#ec2;
  }

  s3(): S3Client {
    if (!this.#s3) {
      const client = createS3Client(this.section('aws'));
      this.onClose(() => client.destroy());
      this.#s3 = client;
    }
    return this.#s3;
  }

  /** The cluster's instances (DescribeInstances once, by IDs or tags), shared by the checks that need them. */
  cluster(): Promise<ClusterInstance[]> {
    this.#cluster ??= describeCluster({
      ec2: this.ec2(),
      config: { cluster: this.section('cluster'), aws: this.section('aws') },
    });
    return this.#cluster;
  }

  onClose(fn: () => Promise<unknown> | void): void {
    this.#closers.push(fn);
  }

  /** Closes what the checks opened; a close that hangs is given up after `timeoutMs`. */
  async close(timeoutMs = 2_000): Promise<void> {
    const all = Promise.allSettled(this.#closers.map(async (fn) => fn()));
    await Promise.race([all, new Promise((r) => setTimeout(r, timeoutMs).unref())]);
  }
}
