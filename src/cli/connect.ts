/** The CLI's Temporal client, from the validated `temporal` configuration section. */
import { Client, Connection } from '@temporalio/client';
import type { TemporalConfig } from '../config';

export async function connectClient(config: TemporalConfig): Promise<Client> {
  const connection = await Connection.connect({
    address: config.TEMPORAL_ADDRESS,
    connectTimeout: '5s',
  }).catch((err: unknown) => {
    throw new Error(
      `cannot reach the Temporal server at ${config.TEMPORAL_ADDRESS} (${err instanceof Error ? err.message : err}); ` +
        'is it running? (locally: npm run stack:up)',
    );
  });
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
}

export function runUrl(config: TemporalConfig, workflowId: string, runId?: string): string {
  const base = `${config.TEMPORAL_UI_URL.replace(/\/$/, '')}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}`;
  return `${base}/workflows/${encodeURIComponent(workflowId)}${runId ? `/${runId}` : ''}/history`;
}
