import { DOCS, notFound } from './errors';
import { deliveryJson, hookJson, newHook, updateHook } from './hooks';
import type { HookState } from './hooks';
import { repoApi } from './shapes';
import type { Route, RouteContext } from './shapes';

/** The repository webhooks API: hooks, pings, the delivery log and redeliveries. */

function hookOf(ctx: RouteContext): HookState {
  const hook = ctx.repo.hooks.find((h) => String(h.id) === ctx.params.hook_id);
  if (!hook) throw notFound(`${DOCS.hooks}#get-a-repository-webhook`);
  return hook;
}

const json = (ctx: RouteContext, hook: HookState) => hookJson(repoApi(ctx), hook);

export const hookRoutes: Route[] = [
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/hooks',
    handle: (ctx) => ({ status: 200, body: ctx.repo.hooks.map((h) => json(ctx, h)) }),
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/hooks',
    handle(ctx) {
      const hook = newHook(ctx.world.next('hook'), ctx.body, ctx.repo.hooks);
      ctx.repo.hooks.push(hook);
      if (hook.active) ctx.activity.ping(ctx.repo, hook, ctx.user);
      const body = json(ctx, hook);
      return { status: 201, body, headers: { location: String(body.url) } };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/hooks/{hook_id}',
    handle: (ctx) => ({ status: 200, body: json(ctx, hookOf(ctx)) }),
  },
  {
    method: 'PATCH',
    template: '/repos/{owner}/{repo}/hooks/{hook_id}',
    handle(ctx) {
      const hook = hookOf(ctx);
      updateHook(hook, ctx.body);
      return { status: 200, body: json(ctx, hook) };
    },
  },
  {
    method: 'DELETE',
    template: '/repos/{owner}/{repo}/hooks/{hook_id}',
    handle(ctx) {
      const hook = hookOf(ctx);
      ctx.repo.hooks.splice(ctx.repo.hooks.indexOf(hook), 1);
      return { status: 204, body: undefined };
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/hooks/{hook_id}/pings',
    handle(ctx) {
      ctx.activity.ping(ctx.repo, hookOf(ctx), ctx.user);
      return { status: 204, body: undefined };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries',
    handle(ctx) {
      const perPage = Math.min(100, Math.max(1, Number(ctx.query.get('per_page') ?? 30) || 30));
      const newest = [...hookOf(ctx).deliveries].reverse().slice(0, perPage);
      return { status: 200, body: newest.map((d) => deliveryJson(ctx.repo.id, d)) };
    },
  },
  {
    method: 'GET',
    template: '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}',
    handle(ctx) {
      const hook = hookOf(ctx);
      const d = hook.deliveries.find((x) => String(x.id) === ctx.params.delivery_id);
      if (!d) throw notFound(`${DOCS.hooks}#get-a-delivery-for-a-repository-webhook`);
      return { status: 200, body: deliveryJson(ctx.repo.id, d, { url: `${repoApi(ctx)}/hooks/${hook.id}/deliveries/${d.id}` }) };
    },
  },
  {
    method: 'POST',
    template: '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts',
    handle(ctx) {
      const hook = hookOf(ctx);
      const d = hook.deliveries.find((x) => String(x.id) === ctx.params.delivery_id);
      if (!d) throw notFound(`${DOCS.hooks}#redeliver-a-delivery-for-a-repository-webhook`);
      ctx.activity.redeliver(hook, d);
      return { status: 202, body: {} };
    },
  },
];
