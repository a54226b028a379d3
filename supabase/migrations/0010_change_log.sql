-- Postgres change streams for branch deltas (lib/branches/pg-tailer.ts).
--
-- A watched table gets an AFTER INSERT/UPDATE/DELETE row trigger that appends one row per change
-- to change_log (collection = the table's name, document id = the id column's value as text,
-- before/after = the whole rows as jsonb) and wakes tailers with
-- pg_notify('durasync_change_log', <branch id>). A tailer (`durasync tail`) reads change_log in id
-- order after its consumer's cursor and, per page, in one transaction: appends the changes as
-- batches of their branches (append_branch_changes) and moves the cursor. A tailer that dies
-- mid-page rolls back both, so a restart resumes from the last position committed: nothing is
-- lost and nothing is forwarded twice. Two tailers of one consumer serialise on the cursor row
-- (select ... for update), so they never forward the same rows.
--
-- Ids come from a sequence: a transaction that commits after a later id was already read would be
-- skipped by a naive "id > cursor" reader. The tailer therefore only reads ids below the oldest id
-- still being written (change_log_safe_horizon), which the trigger publishes through
-- change_log_inflight.

create table change_log (
  id           bigserial primary key,
  branch_id    uuid not null references branches (id) on delete cascade,
  collection   text not null,
  document_id  text not null,
  op           text not null,
  before       jsonb,
  after        jsonb,
  ts           timestamptz not null default now(),
  constraint change_log_op_check check (op in ('insert', 'update', 'delete'))
);
create index change_log_branch_idx on change_log (branch_id, id);

-- Where each consumer (tailer name) is: the last change_log id it forwarded durably (position),
-- or, for sources other than change_log (a MongoDB change stream), their opaque resume token.
create table change_log_cursors (
  consumer     text primary key,
  position     bigint default 0,
  resume_token text,
  updated_at   timestamptz not null default now()
);

-- Which tables are watched, for which branch (durasync_watch_table / durasync_unwatch_table).
create table change_log_watches (
  table_name   regclass primary key,
  branch_id    uuid not null references branches (id) on delete cascade,
  id_column    text not null default 'id',
  created_at   timestamptz not null default now()
);

-- Row trigger of watched tables. Arguments: the branch id, the id column.
-- security definer: the writer of a watched table (on Supabase, maybe `authenticated`) has no
-- rights on change_log; the function appends as its owner.
create or replace function durasync_change_log_capture() returns trigger
language plpgsql security definer set search_path = public, pg_temp as $$
declare
  v_branch uuid := tg_argv[0]::uuid;
  v_id_column text := tg_argv[1];
  v_before jsonb;
  v_after jsonb;
begin
  if tg_op <> 'INSERT' then v_before := to_jsonb(old); end if;
  if tg_op <> 'DELETE' then v_after := to_jsonb(new); end if;
  -- Writers serialise among themselves briefly (the lock is per transaction and shared by readers
  -- of the horizon), so that a tailer never reads past an id whose transaction has not committed.
  perform pg_advisory_xact_lock_shared(7316412203958610440);
  insert into change_log (branch_id, collection, document_id, op, before, after)
  values (v_branch, tg_table_name, coalesce(v_after, v_before) ->> v_id_column, lower(tg_op), v_before, v_after);
  perform pg_notify('durasync_change_log', v_branch::text);
  return null;
end;
$$;

-- Installs (or re-installs) the change trigger on p_table for branch p_branch_id. Idempotent.
create or replace function durasync_watch_table(p_table regclass, p_branch_id uuid, p_id_column text default 'id')
returns void
language plpgsql volatile as $$
begin
  if not exists (select 1 from branches where id = p_branch_id) then
    raise exception 'branch % not found', p_branch_id using errcode = 'DS404',
      detail = json_build_object('resource', 'branch', 'id', p_branch_id)::text;
  end if;
  if not exists (select 1 from pg_attribute where attrelid = p_table and attname = p_id_column and attnum > 0 and not attisdropped) then
    raise exception 'table % has no column %', p_table, p_id_column using errcode = 'DS422',
      detail = json_build_object('argument', 'p_id_column', 'reason', 'no such column')::text;
  end if;
  execute format('drop trigger if exists durasync_change_log on %s', p_table);
  execute format(
    'create trigger durasync_change_log after insert or update or delete on %s for each row execute function durasync_change_log_capture(%L, %L)',
    p_table, p_branch_id::text, p_id_column);
  insert into change_log_watches (table_name, branch_id, id_column) values (p_table, p_branch_id, p_id_column)
  on conflict (table_name) do update set branch_id = excluded.branch_id, id_column = excluded.id_column, created_at = now();
end;
$$;

-- Removes the change trigger from p_table. Idempotent; returns whether a watch was removed.
create or replace function durasync_unwatch_table(p_table regclass) returns boolean
language plpgsql volatile as $$
declare
  v_found boolean;
begin
  execute format('drop trigger if exists durasync_change_log on %s', p_table);
  delete from change_log_watches where table_name = p_table;
  get diagnostics v_found = row_count;
  return v_found;
end;
$$;

-- The highest change_log id a reader may forward: every id at or below it is either committed or
-- will never commit. Taking the exclusive form of the writers' lock waits for transactions that
-- are inserting into change_log right now; tailers call it on its own (autocommit), before each
-- page, so the lock is released at once. It waits at most p_wait_ms for a writer still open (a
-- long transaction on a watched table must not stall every other writer, which queue behind a
-- waiting exclusive request): then it returns null and the tailer tries again a moment later.
create or replace function change_log_safe_horizon(p_wait_ms integer default 1000) returns bigint
language plpgsql volatile as $$
declare
  v_max bigint;
begin
  if not pg_try_advisory_xact_lock(7316412203958610440) then
    perform set_config('lock_timeout', greatest(coalesce(p_wait_ms, 0), 1)::text, true);
    begin
      perform pg_advisory_xact_lock(7316412203958610440);
    exception when lock_not_available then
      return null;
    end;
  end if;
  select coalesce(max(id), 0) into v_max from change_log;
  return v_max;
end;
$$;

-- As 0009 does: on Supabase, RLS on and nothing for anon / authenticated.
alter table change_log enable row level security;
alter table change_log_cursors enable row level security;
alter table change_log_watches enable row level security;
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke all on table change_log, change_log_cursors, change_log_watches from anon, authenticated;
    revoke all on sequence change_log_id_seq from anon, authenticated;
  end if;
end
$$;

select durasync_restrict_to_service_role(array['durasync_watch_table', 'durasync_unwatch_table', 'change_log_safe_horizon']);
