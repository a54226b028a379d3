-- Ingestion, pulled events: events read from provider APIs (ingestSource, workflows/ingestion)
-- beside the pushed ones (webhooks), one cursor per pulled feed, and the enrichment mark.
--
-- One occurrence, stored once whichever way it arrived: a webhook's external_id is its delivery
-- id and a pulled event's is the provider's event id, so the two never meet on external_id. Both
-- carry an occurrence key derived from what happened (e.g. `push:owner/name:refs/heads/main:<sha>`,
-- activities/ingestion-github.ts occurrenceKey()); a second arrival of the same occurrence, by the
-- other path, finds the first row. Events whose type has no reliable key (null) are deduplicated
-- per path only.

alter table events add column occurrence_key text;
create unique index events_occurrence_key_idx on events (source, occurrence_key) where occurrence_key is not null;

-- upsert_event gains p_occurrence_key: drop the old signature, or named calls become ambiguous.
drop function if exists upsert_event(text, text, text, timestamptz, jsonb, text, text, text, text, text, text);

-- Stores an event once per (source, external_id) and once per (source, occurrence_key): a repeat,
-- by either key, returns the stored row, unchanged, with created = false.
create or replace function upsert_event(
  p_source text,
  p_external_id text,
  p_kind text,
  p_occurred_at timestamptz,
  p_payload jsonb default '{}'::jsonb,
  p_payload_ref text default null,
  p_type text default null,
  p_action text default null,
  p_repository text default null,
  p_title text default null,
  p_body text default null,
  p_occurrence_key text default null
) returns table (event jsonb, created boolean)
language plpgsql volatile as $$
declare
  v_row events;
begin
  insert into events as e (source, external_id, kind, occurred_at, payload, payload_ref, type, action,
                           repository, title, body, occurrence_key)
  values (p_source, p_external_id, p_kind, p_occurred_at, coalesce(p_payload, '{}'::jsonb), p_payload_ref,
          p_type, p_action, p_repository, p_title, p_body, p_occurrence_key)
  on conflict do nothing
  returning e.* into v_row;
  if found then
    return query select durasync_event_json(v_row), true;
    return;
  end if;
  -- The same delivery first, then the same occurrence that came the other way.
  return query
    select durasync_event_json(e), false from events e
     where e.source = p_source
       and (e.external_id = p_external_id or (p_occurrence_key is not null and e.occurrence_key = p_occurrence_key))
     order by (e.external_id = p_external_id) desc
     limit 1;
end
$$;

-- A page of pulled events in one call: p_events is a JSON array of objects with the arguments of
-- upsert_event without their p_ prefix (source, external_id, kind, occurred_at, payload, type,
-- action, repository, title, body, occurrence_key). One row per element, in order.
create or replace function upsert_events(p_events jsonb)
returns table (ordinal integer, event_id uuid, external_id text, created boolean)
language plpgsql volatile as $$
declare
  v_item jsonb;
  v_i integer := 0;
  v_event jsonb;
  v_created boolean;
begin
  if jsonb_typeof(p_events) is distinct from 'array' then
    raise exception 'p_events must be a JSON array' using errcode = '22023';
  end if;
  for v_item in select value from jsonb_array_elements(p_events) loop
    v_i := v_i + 1;
    select u.event, u.created into v_event, v_created
      from upsert_event(
        v_item ->> 'source', v_item ->> 'external_id', v_item ->> 'kind', (v_item ->> 'occurred_at')::timestamptz,
        coalesce(v_item -> 'payload', '{}'::jsonb), v_item ->> 'payload_ref', v_item ->> 'type', v_item ->> 'action',
        v_item ->> 'repository', v_item ->> 'title', v_item ->> 'body', v_item ->> 'occurrence_key') u;
    ordinal := v_i;
    event_id := (v_event ->> 'id')::uuid;
    external_id := v_event ->> 'external_id';
    created := v_created;
    return next;
  end loop;
end
$$;

-- Enrichment done (keywords, identity): processed_at set once, on the first completion.
-- p_event_ids: a JSON array of event ids.
create or replace function mark_events_processed(p_event_ids jsonb) returns integer
language sql volatile as $$
  with marked as (
    update events e set processed_at = now()
     where e.id in (select (jsonb_array_elements_text(p_event_ids))::uuid) and e.processed_at is null
    returning 1
  )
  select count(*)::integer from marked
$$;

-- ---------------------------------------------------------------------------------------------
-- Cursors of pulled feeds
-- ---------------------------------------------------------------------------------------------

-- Where each pulled feed (source plugin + scope, e.g. github + repo:owner/name) stopped: the
-- plugin's own cursor (GitHub: the newest event id seen, the feed's ETag, its poll interval),
-- written when a pull completes, so the next run (usually the next schedule action) resumes there.
create table ingest_cursors (
  source       text not null,
  scope        text not null,
  cursor       jsonb not null default '{}'::jsonb,
  runs         integer not null default 0,
  last_created integer not null default 0,
  last_run_at  timestamptz,
  created_at   timestamptz not null default now(),
  updated_at   timestamptz not null default now(),
  primary key (source, scope)
);
create trigger ingest_cursors_touch before update on ingest_cursors
  for each row execute function durasync_touch_updated_at();

create or replace function get_ingest_cursor(p_source text, p_scope text) returns setof ingest_cursors
language sql stable as $$
  select * from ingest_cursors c where c.source = p_source and c.scope = p_scope
$$;

create or replace function save_ingest_cursor(p_source text, p_scope text, p_cursor jsonb, p_created integer default 0)
returns setof ingest_cursors
language sql volatile as $$
  insert into ingest_cursors as c (source, scope, cursor, runs, last_created, last_run_at)
  values (p_source, p_scope, coalesce(p_cursor, '{}'::jsonb), 1, coalesce(p_created, 0), now())
  on conflict (source, scope) do update
    set cursor = excluded.cursor, runs = c.runs + 1, last_created = excluded.last_created, last_run_at = now()
  returning c.*
$$;

create or replace function list_ingest_cursors(p_source text default null) returns setof ingest_cursors
language sql stable as $$
  select * from ingest_cursors c where p_source is null or c.source = p_source order by c.source, c.scope
$$;

select durasync_restrict_to_service_role(array[
  'upsert_event', 'upsert_events', 'mark_events_processed', 'get_ingest_cursor', 'save_ingest_cursor', 'list_ingest_cursors'
]);
