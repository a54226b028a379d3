-- Ingestion: normalised webhook events, full-text and trigram search, keyword hits, identities
-- resolved with a confidence and the rule that matched, and the dead letter queue's operations.
--
-- Search: `events.search` is a generated tsvector (type, action, repository, title, body), so no
-- activity maintains it. Substring search uses a trigram index on title || body when the pg_trgm
-- extension can be created (Supabase, PostgreSQL with contrib, PGlite with the extension loaded,
-- as lib/db/embedded-postgres.ts does); where it cannot, the DO block below skips the index and
-- search_events' ILIKE falls back to a scan: results are the same, only slower.

alter table events
  add column type       text,                         -- e.g. GitHub's X-GitHub-Event: push, issues...
  add column action     text,                         -- the payload's action: opened, closed...
  add column repository text,                         -- 'owner/name' when the event has one
  add column title      text,                         -- one line for humans
  add column body       text;                         -- searchable text (messages, bodies), truncated

alter table events add column search tsvector generated always as (
  to_tsvector('english'::regconfig,
    coalesce(type, '') || ' ' || coalesce(action, '') || ' ' || coalesce(repository, '') || ' ' ||
    coalesce(title, '') || ' ' || coalesce(body, ''))
) stored;

create index events_search_idx on events using gin (search);
create index events_repository_idx on events (repository, occurred_at) where repository is not null;

do $$
declare
  v_schema text;
begin
  begin
    create extension if not exists pg_trgm;
  exception when others then
    raise notice 'pg_trgm unavailable (%): events search without a trigram index', sqlerrm;
  end;
  select n.nspname into v_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_trgm';
  if v_schema is not null then
    execute format(
      'create index if not exists events_text_trgm_idx on events using gin ((coalesce(title, '''') || '' '' || coalesce(body, '''')) %I.gin_trgm_ops)',
      v_schema);
  end if;
end
$$;

-- Identity resolution: how sure we are that canonical_id is the same person, and why.
alter table identities
  add column confidence numeric(3, 2) not null default 1.0 check (confidence between 0 and 1),
  add column match_rule text not null default 'provider_id';  -- provider_id | same_email | same_login
create index identities_login_idx on identities (lower(login)) where login is not null;

-- ---------------------------------------------------------------------------------------------
-- Events
-- ---------------------------------------------------------------------------------------------

-- The columns every event function returns (the tsvector stays in the database).
create or replace function durasync_event_json(e events) returns jsonb
language sql stable as $$
  select to_jsonb(e) - 'search'
$$;

-- Stores an event once per (source, external_id): a repeat delivery returns the stored row, unchanged,
-- with created = false.
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
  p_body text default null
) returns table (event jsonb, created boolean)
language plpgsql volatile as $$
declare
  v_row events;
begin
  insert into events as e (source, external_id, kind, occurred_at, payload, payload_ref, type, action,
                           repository, title, body)
  values (p_source, p_external_id, p_kind, p_occurred_at, coalesce(p_payload, '{}'::jsonb), p_payload_ref,
          p_type, p_action, p_repository, p_title, p_body)
  on conflict on constraint events_natural_key do nothing
  returning e.* into v_row;
  if found then
    return query select durasync_event_json(v_row), true;
    return;
  end if;
  return query select durasync_event_json(e), false from events e
    where e.source = p_source and e.external_id = p_external_id;
end
$$;

create or replace function get_event(p_source text, p_external_id text) returns table (event jsonb)
language sql stable as $$
  select durasync_event_json(e) from events e where e.source = p_source and e.external_id = p_external_id
$$;

create or replace function count_events(p_source text default null) returns bigint
language sql stable as $$
  select count(*) from events e where p_source is null or e.source = p_source
$$;

-- Full-text (websearch syntax) or substring matches, best first. The payload is left out.
create or replace function search_events(p_query text, p_limit integer default 20, p_source text default null)
returns table (event jsonb, rank real)
language sql stable as $$
  with q as (
    select websearch_to_tsquery('english'::regconfig, p_query) as ts,
           '%' || replace(replace(replace(p_query, '\', '\\'), '%', '\%'), '_', '\_') || '%' as pattern
  )
  select durasync_event_json(e) - 'payload', ts_rank(e.search, q.ts) as rank
    from events e, q
   where (p_source is null or e.source = p_source)
     and (e.search @@ q.ts or (coalesce(e.title, '') || ' ' || coalesce(e.body, '')) ilike q.pattern)
   order by rank desc, e.occurred_at desc
   limit greatest(1, least(coalesce(p_limit, 20), 1000))
$$;

-- ---------------------------------------------------------------------------------------------
-- Identities
-- ---------------------------------------------------------------------------------------------

-- Upserts a provider identity and resolves it: the provider id itself (1.0) unless another
-- identity has the same email (0.9, same_email) or, on another provider, the same login (0.6,
-- same_login); canonical_id then points at that identity's canonical one. An identity already
-- resolved keeps its resolution unless a stronger rule now matches. With p_event_id, the event's
-- actor becomes this identity.
create or replace function link_identity(
  p_provider text,
  p_external_id text,
  p_login text default null,
  p_email text default null,
  p_name text default null,
  p_event_id uuid default null
) returns setof identities
language plpgsql volatile as $$
declare
  v_me identities;
  v_match uuid;
  v_confidence numeric;
  v_rule text;
begin
  insert into identities as i (provider, external_id, login, email, display_name)
  values (p_provider, p_external_id, p_login, lower(p_email), p_name)
  on conflict on constraint identities_natural_key do update
    set login = coalesce(excluded.login, i.login),
        email = coalesce(excluded.email, i.email),
        display_name = coalesce(excluded.display_name, i.display_name)
  returning i.* into v_me;

  if v_me.email is not null then
    select coalesce(o.canonical_id, o.id) into v_match from identities o
     where o.id <> v_me.id and lower(o.email) = v_me.email and coalesce(o.canonical_id, o.id) <> v_me.id
     order by o.created_at limit 1;
    if v_match is not null then v_confidence := 0.9; v_rule := 'same_email'; end if;
  end if;
  if v_match is null and v_me.login is not null then
    select coalesce(o.canonical_id, o.id) into v_match from identities o
     where o.provider <> v_me.provider and lower(o.login) = lower(v_me.login) and coalesce(o.canonical_id, o.id) <> v_me.id
     order by o.created_at limit 1;
    if v_match is not null then v_confidence := 0.6; v_rule := 'same_login'; end if;
  end if;

  if v_match is not null and (v_me.canonical_id is null or v_confidence > v_me.confidence) then
    update identities i set canonical_id = v_match, confidence = v_confidence, match_rule = v_rule
     where i.id = v_me.id returning i.* into v_me;
  end if;

  if p_event_id is not null then
    update events e set actor_identity_id = v_me.id where e.id = p_event_id;
  end if;
  return next v_me;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Keywords
-- ---------------------------------------------------------------------------------------------

create or replace function list_tracked_keywords() returns setof tracked_keywords
language sql stable as $$
  select * from tracked_keywords order by keyword
$$;

create or replace function set_tracked_keyword(p_keyword text, p_enabled boolean default true)
returns setof tracked_keywords
language sql volatile as $$
  insert into tracked_keywords as k (keyword, enabled) values (lower(btrim(p_keyword)), coalesce(p_enabled, true))
  on conflict on constraint tracked_keywords_keyword_key do update set enabled = excluded.enabled
  returning k.*
$$;

-- Counts the enabled tracked keywords in the event's title and body, as whole words, ignoring
-- case, and records the hits (a repeat replaces the counts). Returns the hits.
create or replace function record_event_keywords(p_event_id uuid)
returns table (keyword text, occurrences integer)
language plpgsql volatile as $$
declare
  v_text text;
begin
  select lower(coalesce(e.title, '') || ' ' || coalesce(e.body, '')) into v_text from events e where e.id = p_event_id;
  if not found then
    raise exception 'event % not found', p_event_id using errcode = 'DS404',
      detail = json_build_object('resource', 'event', 'id', p_event_id)::text;
  end if;
  return query
    with hits as (
      select k.id, k.keyword,
             regexp_count(v_text, '(^|[^[:alnum:]_])' || regexp_replace(k.keyword, '([.*+?^${}()|\[\]\\])', '\\\1', 'g') || '(?=$|[^[:alnum:]_])') as n
        from tracked_keywords k where k.enabled
    ), written as (
      insert into event_keywords as ek (event_id, keyword_id, occurrences)
      select p_event_id, h.id, h.n from hits h where h.n > 0
      on conflict (event_id, keyword_id) do update set occurrences = excluded.occurrences
      returning ek.keyword_id, ek.occurrences
    )
    select h.keyword, w.occurrences from written w join hits h on h.id = w.keyword_id order by h.keyword;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Dead letters
-- ---------------------------------------------------------------------------------------------

create or replace function list_dead_letters(p_include_resolved boolean default false, p_source text default null, p_limit integer default 100)
returns setof dead_letters
language sql stable as $$
  select * from dead_letters d
   where (coalesce(p_include_resolved, false) or d.resolved_at is null)
     and (p_source is null or d.source = p_source)
   order by d.last_failed_at desc, d.id
   limit greatest(1, least(coalesce(p_limit, 100), 10000))
$$;

create or replace function get_dead_letter(p_id uuid) returns setof dead_letters
language sql stable as $$
  select * from dead_letters d where d.id = p_id
$$;

-- Marks a dead letter resolved (idempotent: the first resolved_at stays). No row for an unknown id.
create or replace function resolve_dead_letter(p_id uuid) returns setof dead_letters
language sql volatile as $$
  update dead_letters d set resolved_at = coalesce(d.resolved_at, now()) where d.id = p_id returning d.*
$$;

select durasync_restrict_to_service_role(array[
  'durasync_event_json', 'upsert_event', 'get_event', 'count_events', 'search_events', 'link_identity',
  'list_tracked_keywords', 'set_tracked_keyword', 'record_event_keywords', 'list_dead_letters',
  'get_dead_letter', 'resolve_dead_letter'
]);
