import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketHandler } from '@electric-sql/pglite-socket';
import type { PGLiteSocketHandlerOptions } from '@electric-sql/pglite-socket';
import type { Logger } from '../logger';

/**
 * A Postgres wire-protocol server for one PGlite instance that several clients can share safely.
 *
 * @electric-sql/pglite-socket 0.2.17's PGLiteSocketServer multiplexes its connections message by
 * message, pinning a connection only while a SQL transaction is open. Outside a transaction, the
 * extended-protocol messages (Parse/Bind/Execute/Sync) of two pooled connections interleave in the
 * one PGlite session: one's Parse replaces the other's unnamed statement before its Bind ("bind
 * message supplies 1 parameters, but prepared statement "" requires 3", or wrong rows). Reproduced
 * here with 4 pg pools; reported upstream as electric-sql/pglite#1046 (open PR #977). It also
 * stops serving for good if PGlite ever throws mid-queue.
 *
 * This server reuses the package's PGLiteSocketHandler (message framing, SSL and cancel requests)
 * with its own queue, which gives the session to one connection from its first message until
 * PGlite answers ReadyForQuery with status idle: a whole extended-protocol exchange, a whole
 * transaction, or a COPY. Other connections wait their turn. A connection that goes away while
 * holding the session gets its exchange ended (Sync) and its transaction rolled back.
 */

export interface PgliteWireServerOptions {
  db: PGlite;
  /** Default: 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. Default: 0. */
  port?: number;
  /** Connections beyond this are refused. Default: 20. */
  maxConnections?: number;
  logger?: Logger;
}

/** Sync: ends an extended-protocol exchange (the backend answers ReadyForQuery). */
const SYNC_MESSAGE = new Uint8Array([0x53, 0, 0, 0, 4]);
/** ReadyForQuery is 'Z', length 5, then the transaction status: I(dle), T (in transaction), E (failed). */
const READY_FOR_QUERY_IDLE = [0x5a, 0, 0, 0, 5, 0x49];

interface Job {
  handlerId: number;
  /** A protocol message to run, or undefined for "reset the session after this handler left". */
  message: Uint8Array | undefined;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
}

/** The queue PGLiteSocketHandler talks to (it calls exactly these three methods). */
class SessionQueue {
  private readonly jobs: Job[] = [];
  /** The handler whose exchange or transaction is in progress; undefined when the session is idle. */
  private owner: number | undefined;
  private pumping = false;

  constructor(
    private readonly db: PGlite,
    private readonly logger?: Logger,
  ) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.jobs.push({ handlerId, message, onData, resolve, reject });
      void this.pump();
    });
  }

  clearQueueForHandler(handlerId: number): void {
    for (let i = this.jobs.length - 1; i >= 0; i--) {
      const job = this.jobs[i];
      if (job?.handlerId === handlerId && job.message) {
        this.jobs.splice(i, 1);
        job.reject(new Error('connection closed'));
      }
    }
  }

  /** Called when a handler detaches: if it held the session, end its exchange and transaction. */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.owner !== handlerId) return;
    await new Promise<number>((resolve, reject) => {
      this.jobs.unshift({ handlerId, message: undefined, onData: () => undefined, resolve, reject });
      void this.pump();
    }).catch((err: unknown) => this.logger?.warn({ err }, 'embedded postgres: session reset failed'));
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const index = this.owner === undefined ? (this.jobs.length > 0 ? 0 : -1) : this.jobs.findIndex((job) => job.handlerId === this.owner);
        if (index < 0) return; // idle, or the owner's next message has not arrived yet
        const [job] = this.jobs.splice(index, 1);
        if (!job) return;
        this.owner = job.handlerId;
        try {
          if (job.message) {
            job.resolve(await this.run(job.message, job.onData));
          } else {
            await this.reset();
            this.owner = undefined;
            job.resolve(0);
          }
        } catch (err) {
          // The handler errors out and detaches; its reset job then frees the session.
          job.reject(err instanceof Error ? err : new Error(String(err)));
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async run(message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    let bytes = 0;
    let tail: number[] = [];
    await this.db.runExclusive(() =>
      this.db.execProtocolRawStream(message, {
        onRawData: (data) => {
          bytes += data.length;
          tail = [...tail, ...data.subarray(Math.max(0, data.length - READY_FOR_QUERY_IDLE.length))].slice(-READY_FOR_QUERY_IDLE.length);
          onData(data);
        },
      }),
    );
    if (tail.length === READY_FOR_QUERY_IDLE.length && tail.every((byte, i) => byte === READY_FOR_QUERY_IDLE[i])) {
      this.owner = undefined;
    }
    return bytes;
  }

  private async reset(): Promise<void> {
    await this.db.runExclusive(() => this.db.execProtocolRaw(SYNC_MESSAGE));
    if (this.db.isInTransaction()) await this.db.exec('rollback');
  }
}

export class PgliteWireServer {
  private readonly queue: SessionQueue;
  private readonly handlers = new Set<PGLiteSocketHandler>();
  private server: Server | undefined;

  constructor(private readonly options: PgliteWireServerOptions) {
    this.queue = new SessionQueue(options.db, options.logger);
  }

  /** Starts listening; resolves with the port. */
  async start(): Promise<number> {
    await this.options.db.waitReady;
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** Stops listening and closes every client connection, waiting for their sessions to be reset. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await Promise.allSettled([...this.handlers].map((handler) => handler.detach(true)));
    this.handlers.clear();
    await closed;
  }

  private accept(socket: Socket): void {
    if (!this.server || this.handlers.size >= (this.options.maxConnections ?? 20)) {
      this.options.logger?.warn({ connections: this.handlers.size }, 'embedded postgres: connection refused');
      socket.end();
      return;
    }
    const handler = new PGLiteSocketHandler({
      // SessionQueue has the three methods the handler calls; the declared type is the package's
      // own (unexported) queue class.
      queryQueue: this.queue as unknown as PGLiteSocketHandlerOptions['queryQueue'],
      closeOnDetach: true,
    });
    this.handlers.add(handler);
    const forget = () => this.handlers.delete(handler);
    handler.addEventListener('close', forget);
    handler.addEventListener('error', forget);
    handler.attach(socket).catch((err: unknown) => {
      forget();
      this.options.logger?.warn({ err }, 'embedded postgres: could not attach a connection');
      socket.destroy();
    });
  }
}
