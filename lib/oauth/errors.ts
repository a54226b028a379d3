/** Why a connect did not end with a token. */
export type ConnectFailureReason = 'timeout' | 'denied' | 'state-mismatch' | 'refused' | 'expired';

/**
 * An OAuth flow that ended without a token: the user denied it, did not answer in time, the
 * provider refused the exchange (a wrong verifier, an expired code). One line; `reason` for code.
 */
export class ConnectError extends Error {
  override readonly name = 'ConnectError';
  constructor(
    readonly reason: ConnectFailureReason,
    message: string,
  ) {
    super(message);
  }
}
