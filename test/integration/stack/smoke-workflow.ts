/** A trivial workflow for the Temporal smoke test: one activity call and a reply built from its result. */
import { proxyActivities } from '@temporalio/workflow';

export interface SmokeActivities {
  shout(text: string): Promise<string>;
}

const { shout } = proxyActivities<SmokeActivities>({ startToCloseTimeout: '30 seconds' });

export async function smokeWorkflow(name: string): Promise<string> {
  return `hello ${await shout(name)}`;
}
