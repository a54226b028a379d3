import { Client, Connection } from '@temporalio/client';
import type { DurasyncConfig } from './config';

/** A Temporal client for the configured cluster (connection settings from @temporalio/envconfig). */
export async function connectClient(config: DurasyncConfig): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(config.temporal.connectionOptions);
  return { client: new Client({ connection, namespace: config.temporal.namespace }), connection };
}
