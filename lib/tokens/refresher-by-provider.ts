import type { RefreshedToken, TokenRefresher } from './token-service';

/**
 * One TokenRefresher over several providers: `refresh(provider, ...)` goes to that provider's
 * refresher, built on first use (so a process loads only the provider SDKs it refreshes for). A
 * provider without one fails with a one-line error naming it.
 */
export function refresherByProvider(factories: Record<string, () => TokenRefresher>): TokenRefresher {
  const built = new Map<string, TokenRefresher>();
  return {
    refresh(provider: string, refreshToken: string): Promise<RefreshedToken> {
      const factory = factories[provider];
      if (!factory) return Promise.reject(new Error(`no token refresher for provider ${provider}`));
      let refresher = built.get(provider);
      if (!refresher) built.set(provider, (refresher = factory()));
      return refresher.refresh(provider, refreshToken);
    },
  };
}
