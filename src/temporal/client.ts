/** The Temporal client of the CLI and the dashboard, from the validated `temporal` configuration section. */
import { Client } from '@temporalio/client';
import type { TemporalConfig } from '../config';
import { connectTemporal } from './connection';

export async function connectClient(config: TemporalConfig): Promise<Client> {
  const connection = await connectTemporal(config, { connectTimeout: '5s' });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}

export function runUrl(config: TemporalConfig, workflowId: string, runId?: string): string {
  const base = `${config.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}`;
  return `${base}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
}
