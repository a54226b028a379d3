-- Outbound notifications: webhook subscriptions and their delivery log.
--
-- A subscription receives the events it names (a fixed set) at its URL, as durasync JSON or as a
-- Slack-compatible body, signed with its secret (HMAC-SHA256). The secret is returned only by
-- get_notification_target, which the delivery activity calls; the list functions never return it.
-- Each (subscription, event id) is one delivery row, its attempts counted as they happen.

create table notification_subscriptions (
  id          uuid primary key default gen_random_uuid(),
  url         text not null check (url ~ '^https?://'),
  events      text[] not null check (
                cardinality(events) > 0
                and events <@ array['sync.finished', 'sync.conflicts', 'dead_letter', 'branch.delta_committed']::text[]),
  format      text not null default 'json' check (format in ('json', 'slack')),
  secret      text not null check (length(secret) >= 16),
  enabled     boolean not null default true,
  created_at  timestamptz not null default now()
);
create index notification_subscriptions_events on notification_subscriptions using gin (events);

create table notification_deliveries (
  id                uuid primary key default gen_random_uuid(),
  subscription_id   uuid not null references notification_subscriptions (id) on delete cascade,
  event             text not null,
  event_id          text not null,
  status            text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts          integer not null default 0,
  last_status_code  integer,
  last_error        text,
  delivered_at      timestamptz,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  constraint notification_deliveries_once unique (subscription_id, event_id)
);
create index notification_deliveries_recent on notification_deliveries (created_at desc);
create trigger notification_deliveries_touch before update on notification_deliveries
  for each row execute function durasync_touch_updated_at();

-- p_events: a JSON array of event names. Returns the subscription without its secret.
create or replace function create_notification_subscription(p_url text, p_events jsonb, p_secret text, p_format text default 'json')
returns table (id uuid, url text, events text[], format text, enabled boolean, created_at timestamptz)
language plpgsql volatile as $$
declare
  v_events text[];
begin
  if jsonb_typeof(p_events) is distinct from 'array' then
    raise exception 'events must be a JSON array' using errcode = 'DS422', detail = '{"argument":"events"}';
  end if;
  select coalesce(array_agg(distinct e order by e), '{}') into v_events from jsonb_array_elements_text(p_events) e;
  -- Checked here, before the insert: a failed check constraint would echo the row (the secret) in its detail.
  if cardinality(v_events) = 0 or not (v_events <@ array['sync.finished', 'sync.conflicts', 'dead_letter', 'branch.delta_committed']::text[]) then
    raise exception 'events must name sync.finished, sync.conflicts, dead_letter or branch.delta_committed' using errcode = 'DS422', detail = '{"argument":"events"}';
  end if;
  if p_url is null or p_url !~ '^https?://' then
    raise exception 'url must be an http(s) URL' using errcode = 'DS422', detail = '{"argument":"url"}';
  end if;
  if coalesce(p_format, 'json') not in ('json', 'slack') then
    raise exception 'format must be json or slack' using errcode = 'DS422', detail = '{"argument":"format"}';
  end if;
  if p_secret is null or length(p_secret) < 16 then
    raise exception 'secret must be at least 16 characters' using errcode = 'DS422', detail = '{"argument":"secret"}';
  end if;
  return query
    insert into notification_subscriptions as s (url, events, format, secret)
    values (p_url, v_events, coalesce(p_format, 'json'), p_secret)
    returning s.id, s.url, s.events, s.format, s.enabled, s.created_at;
end
$$;

-- Subscriptions, oldest first; with p_event only the enabled ones that receive it.
create or replace function list_notification_subscriptions(p_event text default null)
returns table (id uuid, url text, events text[], format text, enabled boolean, created_at timestamptz)
language sql stable as $$
  select s.id, s.url, s.events, s.format, s.enabled, s.created_at
    from notification_subscriptions s
   where p_event is null or (s.enabled and p_event = any (s.events))
   order by s.created_at, s.id
$$;

-- What a delivery needs, secret included: only the delivery activity calls this.
create or replace function get_notification_target(p_id uuid)
returns table (id uuid, url text, format text, secret text, enabled boolean)
language sql stable as $$
  select s.id, s.url, s.format, s.secret, s.enabled from notification_subscriptions s where s.id = p_id
$$;

create or replace function set_notification_subscription_enabled(p_id uuid, p_enabled boolean) returns boolean
language sql volatile as $$
  with changed as (update notification_subscriptions s set enabled = p_enabled where s.id = p_id returning 1)
  select exists (select 1 from changed)
$$;

-- Deletes a subscription and its delivery log; false when there was none.
create or replace function delete_notification_subscription(p_id uuid) returns boolean
language sql volatile as $$
  with gone as (delete from notification_subscriptions s where s.id = p_id returning 1)
  select exists (select 1 from gone)
$$;

-- One attempt of a delivery: counts it and records its outcome. p_status: pending (will be
-- retried), delivered or failed (given up). A delivered row stays delivered.
create or replace function record_notification_attempt(
  p_subscription_id uuid, p_event text, p_event_id text, p_status text,
  p_status_code integer default null, p_error text default null
) returns setof notification_deliveries
language sql volatile as $$
  insert into notification_deliveries as d (subscription_id, event, event_id, status, attempts, last_status_code, last_error, delivered_at)
  values (p_subscription_id, p_event, p_event_id, p_status, 1, p_status_code, left(p_error, 500), case when p_status = 'delivered' then now() end)
  on conflict (subscription_id, event_id) do update
    set attempts = d.attempts + 1,
        status = case when d.status = 'delivered' then d.status else excluded.status end,
        last_status_code = excluded.last_status_code,
        last_error = excluded.last_error,
        delivered_at = coalesce(d.delivered_at, excluded.delivered_at)
  returning d.*
$$;

create or replace function list_notification_deliveries(p_subscription_id uuid default null, p_limit integer default 50)
returns setof notification_deliveries
language sql stable as $$
  select * from notification_deliveries d
   where p_subscription_id is null or d.subscription_id = p_subscription_id
   order by d.created_at desc, d.id
   limit greatest(1, least(coalesce(p_limit, 50), 1000))
$$;

select durasync_restrict_to_service_role(array[
  'create_notification_subscription', 'list_notification_subscriptions', 'get_notification_target',
  'set_notification_subscription_enabled', 'delete_notification_subscription',
  'record_notification_attempt', 'list_notification_deliveries'
]);
