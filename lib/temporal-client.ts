import { Client, Connection } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { DurasyncConfig } from './config';
import { EncryptionCodec } from './codec';

/**
 * The data converter every durasync worker and client uses: the SDK's default payload conversion,
 * plus AES-256-GCM encryption of every payload when DURASYNC_ENCRYPTION_KEY is set.
 */
export function dataConverter(config: DurasyncConfig): DataConverter | undefined {
  const keys = config.encryption.keys;
  return keys ? { payloadCodecs: [new EncryptionCodec(keys)] } : undefined;
}

/** A Temporal client for the configured cluster (connection settings from @temporalio/envconfig). */
export async function connectClient(config: DurasyncConfig): Promise<{ client: Client; connection: Connection }> {
  const connection = await Connection.connect(config.temporal.connectionOptions);
  return { client: new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) }), connection };
}
