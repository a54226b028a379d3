-- Branch intake: changes arrive in batches (append_branch_changes), wait in Postgres until a
-- delta holds them (pending_branch_batches -> object storage -> commit_branch_delta marks them
-- consumed in the transaction that moves the head), snapshots of materialised state shortcut
-- reading a long chain of deltas, and a branch is archived, then its data deleted.
--
-- Payloads are text (NDJSON, one change per line), not bytea: PostgREST renders bytea as hex, so
-- text keeps pg and supabase-js callers identical. Batch ids are bigint; the functions hand them
-- out as text (JSON numbers lose precision past 2^53).

alter table branches add column archived_at timestamptz;

alter table branch_deltas add column raw_bytes bigint check (raw_bytes is null or raw_bytes >= 0);
alter table branch_deltas add column codec text;

create table branch_change_batches (
  id               bigserial primary key,
  branch_id        uuid not null references branches (id) on delete cascade,
  payload          text not null,                     -- NDJSON, one Change per line
  change_count     integer not null check (change_count >= 0),
  byte_size        integer not null check (byte_size >= 0),
  first_ts         timestamptz,
  last_ts          timestamptz,
  created_at       timestamptz not null default now(),
  delta_seq        bigint                             -- set when a committed delta holds the batch
);
create index branch_change_batches_pending_idx on branch_change_batches (branch_id, id) where delta_seq is null;
create index branch_change_batches_delta_idx on branch_change_batches (branch_id, delta_seq) where delta_seq is not null;

create table branch_snapshots (
  branch_id        uuid not null references branches (id) on delete cascade,
  seq              bigint not null check (seq >= 0),
  object_key       text not null,
  checksum         text not null,
  document_count   bigint not null check (document_count >= 0),
  created_at       timestamptz not null default now(),
  primary key (branch_id, seq),
  constraint branch_snapshots_object_key_key unique (object_key)
);

-- As 0003 does for the first tables: on Supabase, RLS on and nothing for anon / authenticated.
alter table branch_change_batches enable row level security;
alter table branch_snapshots enable row level security;
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke all on table branch_change_batches, branch_snapshots from anon, authenticated;
    revoke all on sequence branch_change_batches_id_seq from anon, authenticated;
  end if;
end
$$;

-- create_branch returns archived_at too. Same parameters; the return type changes, so the old
-- function is dropped and created again.
drop function if exists create_branch(text, uuid, bigint, jsonb);

create function create_branch(
  p_name text,
  p_parent_id uuid default null,
  p_parent_seq bigint default null,
  p_metadata jsonb default '{}'::jsonb
) returns table (
  id uuid, name text, parent_id uuid, parent_seq bigint, head_seq bigint, metadata jsonb,
  created_at timestamptz, updated_at timestamptz, archived_at timestamptz, created boolean
)
language plpgsql volatile as $$
#variable_conflict use_column
declare
  v_parent_head bigint;
  v_parent_seq bigint;
  v_existing branches;
  v_inserted integer;
begin
  if p_parent_id is null and p_parent_seq is not null then
    raise exception 'a parent seq needs a parent branch' using errcode = 'DS422',
      detail = json_build_object('argument', 'p_parent_seq', 'reason', 'no parent')::text;
  end if;
  if p_parent_id is not null then
    select b.head_seq into v_parent_head from branches b where b.id = p_parent_id;
    if not found then
      raise exception 'branch % not found', p_parent_id using errcode = 'DS404',
        detail = json_build_object('resource', 'branch', 'id', p_parent_id)::text;
    end if;
    v_parent_seq := coalesce(p_parent_seq, v_parent_head);
    if v_parent_seq < 0 or v_parent_seq > v_parent_head then
      raise exception 'parent seq % is outside 0..% of branch %', v_parent_seq, v_parent_head, p_parent_id
        using errcode = 'DS422',
        detail = json_build_object('argument', 'p_parent_seq', 'reason', 'beyond parent head',
                                   'headSeq', v_parent_head)::text;
    end if;
  end if;

  insert into branches (name, parent_id, parent_seq, metadata)
  values (p_name, p_parent_id, v_parent_seq, coalesce(p_metadata, '{}'::jsonb))
  on conflict on constraint branches_name_key do nothing;
  get diagnostics v_inserted = row_count;

  if v_inserted = 0 then
    select * into v_existing from branches b where b.name = p_name;
    if v_existing.parent_id is distinct from p_parent_id
       or (p_parent_seq is not null and v_existing.parent_seq is distinct from p_parent_seq) then
      raise exception 'branch % exists with another parent', p_name using errcode = 'DS409',
        detail = json_build_object('resource', 'branch', 'id', v_existing.id, 'reason', 'parent')::text;
    end if;
  end if;

  return query
    select b.id, b.name, b.parent_id, b.parent_seq, b.head_seq, b.metadata, b.created_at,
           b.updated_at, b.archived_at, v_inserted > 0
      from branches b where b.name = p_name;
end
$$;

-- Every branch, oldest first (archived ones included: see archived_at).
create or replace function list_branches() returns setof branches
language sql stable as $$
  select * from branches order by created_at, id
$$;

-- Appends one batch of changes to a branch; returns its id (text). DS404 for an unknown branch,
-- DS409 (reason archived) for an archived one. The share lock orders it against archive_branch.
create or replace function append_branch_changes(
  p_branch_id uuid,
  p_payload text,
  p_change_count integer,
  p_byte_size integer,
  p_first_ts timestamptz default null,
  p_last_ts timestamptz default null
) returns text
language plpgsql volatile as $$
declare
  v_archived timestamptz;
  v_id bigint;
begin
  select b.archived_at into v_archived from branches b where b.id = p_branch_id for share;
  if not found then
    raise exception 'branch % not found', p_branch_id using errcode = 'DS404',
      detail = json_build_object('resource', 'branch', 'id', p_branch_id)::text;
  end if;
  if v_archived is not null then
    raise exception 'branch % is archived', p_branch_id using errcode = 'DS409',
      detail = json_build_object('resource', 'branch', 'id', p_branch_id, 'reason', 'archived',
                                 'state', 'archived')::text;
  end if;
  insert into branch_change_batches (branch_id, payload, change_count, byte_size, first_ts, last_ts)
  values (p_branch_id, p_payload, p_change_count, p_byte_size, p_first_ts, p_last_ts)
  returning id into v_id;
  return v_id::text;
end
$$;

-- The oldest unconsumed batches of a branch, in id order, as long as their running totals stay
-- within both caps; the first pending batch always comes back, even when it alone exceeds them.
create or replace function pending_branch_batches(
  p_branch_id uuid,
  p_max_changes integer,
  p_max_bytes bigint
) returns table (batch_id text, payload text, change_count integer, byte_size integer)
language sql stable as $$
  with pending as (
    select c.id,
           row_number() over w as n,
           sum(c.change_count) over w as changes,
           sum(c.byte_size::bigint) over w as bytes
      from branch_change_batches c
     where c.branch_id = p_branch_id and c.delta_seq is null
    window w as (order by c.id rows between unbounded preceding and current row)
  )
  select c.id::text, c.payload, c.change_count, c.byte_size
    from pending p join branch_change_batches c on c.id = p.id
   where p.n = 1 or (p.changes <= greatest(p_max_changes, 0) and p.bytes <= greatest(p_max_bytes, 0))
   order by c.id
$$;

-- Branches (not archived) with unconsumed batches: the newest pending batch id and the totals.
create or replace function branches_with_pending_batches()
returns table (branch_id uuid, last_batch_id text, changes bigint, bytes bigint)
language sql stable as $$
  select c.branch_id, max(c.id)::text, sum(c.change_count)::bigint, sum(c.byte_size)::bigint
    from branch_change_batches c
    join branches b on b.id = c.branch_id and b.archived_at is null
   where c.delta_seq is null
   group by c.branch_id
   order by min(c.id)
$$;

-- commit_branch_delta gains p_batch_ids (JSON array of batch ids, strings or numbers: the batches
-- the delta holds, marked consumed with delta_seq = p_seq in the same transaction as the head
-- move; only this branch's unconsumed ones), p_raw_bytes (size before compression) and p_codec.
-- A re-commit of a committed seq still changes nothing. A new seq on an archived branch is
-- refused (DS409, reason archived). Parameters with defaults beside the old function would make
-- ambiguous overloads, so the old one is replaced.
drop function if exists commit_branch_delta(uuid, bigint, text, integer, bigint, text, text, text);

create function commit_branch_delta(
  p_branch_id uuid,
  p_seq bigint,
  p_object_key text,
  p_change_count integer,
  p_byte_size bigint,
  p_checksum text,
  p_start_lsn text default null,
  p_end_lsn text default null,
  p_batch_ids jsonb default null,
  p_raw_bytes bigint default null,
  p_codec text default null
) returns table (
  branch_id uuid, seq bigint, object_key text, change_count integer, byte_size bigint,
  checksum text, start_lsn text, end_lsn text, created_at timestamptz, raw_bytes bigint,
  codec text, created boolean, head_seq bigint
)
language plpgsql volatile as $$
#variable_conflict use_column
declare
  v_head bigint;
  v_archived timestamptz;
begin
  if p_batch_ids is not null and jsonb_typeof(p_batch_ids) <> 'array' then
    raise exception 'p_batch_ids must be a JSON array' using errcode = 'DS422',
      detail = json_build_object('argument', 'p_batch_ids', 'reason', 'not an array')::text;
  end if;

  -- The row lock serialises commits to one branch.
  select b.head_seq, b.archived_at into v_head, v_archived from branches b where b.id = p_branch_id for update;
  if not found then
    raise exception 'branch % not found', p_branch_id using errcode = 'DS404',
      detail = json_build_object('resource', 'branch', 'id', p_branch_id)::text;
  end if;

  if p_seq is not null and p_seq >= 1 and p_seq <= v_head then
    return query
      select d.branch_id, d.seq, d.object_key, d.change_count, d.byte_size, d.checksum,
             d.start_lsn, d.end_lsn, d.created_at, d.raw_bytes, d.codec, false, v_head
        from branch_deltas d where d.branch_id = p_branch_id and d.seq = p_seq;
    if not found then
      raise exception 'delta % of branch % is no longer stored', p_seq, p_branch_id using errcode = 'DS409',
        detail = json_build_object('resource', 'branch_delta', 'id', p_branch_id, 'reason', 'missing',
                                   'seq', p_seq)::text;
    end if;
    return;
  end if;

  if v_archived is not null then
    raise exception 'branch % is archived', p_branch_id using errcode = 'DS409',
      detail = json_build_object('resource', 'branch', 'id', p_branch_id, 'reason', 'archived',
                                 'state', 'archived')::text;
  end if;

  if p_seq is null or p_seq <> v_head + 1 then
    raise exception 'branch % is at seq %, cannot commit seq %', p_branch_id, v_head, p_seq
      using errcode = 'DS412',
      detail = json_build_object('branchId', p_branch_id, 'seq', p_seq, 'headSeq', v_head)::text;
  end if;

  insert into branch_deltas (branch_id, seq, object_key, change_count, byte_size, checksum,
                             start_lsn, end_lsn, raw_bytes, codec)
  values (p_branch_id, p_seq, p_object_key, p_change_count, p_byte_size, p_checksum,
          p_start_lsn, p_end_lsn, p_raw_bytes, p_codec);
  update branches b set head_seq = p_seq where b.id = p_branch_id;

  if p_batch_ids is not null then
    update branch_change_batches c
       set delta_seq = p_seq
     where c.branch_id = p_branch_id
       and c.delta_seq is null
       and c.id in (select (e #>> '{}')::bigint from jsonb_array_elements(p_batch_ids) e);
  end if;

  return query
    select d.branch_id, d.seq, d.object_key, d.change_count, d.byte_size, d.checksum,
           d.start_lsn, d.end_lsn, d.created_at, d.raw_bytes, d.codec, true, p_seq
      from branch_deltas d where d.branch_id = p_branch_id and d.seq = p_seq;
end
$$;

-- Deltas of a branch in seq order, optionally within p_from_seq..p_to_seq (inclusive).
create or replace function list_branch_deltas(
  p_branch_id uuid,
  p_from_seq bigint default null,
  p_to_seq bigint default null
) returns setof branch_deltas
language sql stable as $$
  select * from branch_deltas d
   where d.branch_id = p_branch_id
     and (p_from_seq is null or d.seq >= p_from_seq)
     and (p_to_seq is null or d.seq <= p_to_seq)
   order by d.seq
$$;

-- Records a snapshot of a branch's state at p_seq (0..head). Idempotent on (branch, seq): a
-- second call returns the row stored first. DS404 for an unknown branch, DS422 for a seq
-- outside 0..head.
create or replace function record_branch_snapshot(
  p_branch_id uuid,
  p_seq bigint,
  p_object_key text,
  p_checksum text,
  p_document_count bigint
) returns setof branch_snapshots
language plpgsql volatile as $$
declare
  v_head bigint;
begin
  select b.head_seq into v_head from branches b where b.id = p_branch_id;
  if not found then
    raise exception 'branch % not found', p_branch_id using errcode = 'DS404',
      detail = json_build_object('resource', 'branch', 'id', p_branch_id)::text;
  end if;
  if p_seq is null or p_seq < 0 or p_seq > v_head then
    raise exception 'snapshot seq % is outside 0..% of branch %', p_seq, v_head, p_branch_id
      using errcode = 'DS422',
      detail = json_build_object('argument', 'p_seq', 'reason', 'beyond head', 'headSeq', v_head)::text;
  end if;
  insert into branch_snapshots (branch_id, seq, object_key, checksum, document_count)
  values (p_branch_id, p_seq, p_object_key, p_checksum, p_document_count)
  on conflict (branch_id, seq) do nothing;
  return query select * from branch_snapshots s where s.branch_id = p_branch_id and s.seq = p_seq;
end
$$;

-- The branch's newest snapshot at or before p_seq (empty when there is none).
create or replace function latest_branch_snapshot(p_branch_id uuid, p_at_or_before_seq bigint)
returns setof branch_snapshots
language sql stable as $$
  select * from branch_snapshots s
   where s.branch_id = p_branch_id and s.seq <= p_at_or_before_seq
   order by s.seq desc
   limit 1
$$;

-- Archives a branch: no more appends or new deltas. Idempotent (keeps the first archived_at).
create or replace function archive_branch(p_id uuid) returns setof branches
language plpgsql volatile as $$
begin
  return query
    update branches b set archived_at = coalesce(b.archived_at, now()) where b.id = p_id returning b.*;
  if not found then
    raise exception 'branch % not found', p_id using errcode = 'DS404',
      detail = json_build_object('resource', 'branch', 'id', p_id)::text;
  end if;
end
$$;

-- Deletes an archived branch's rows (batches, deltas, snapshots, the branch itself) and returns
-- how many of each went. DS409 when the branch is not archived (reason state) or has child
-- branches (reason children). An unknown id is a branch already deleted: all counts 0.
-- Objects in storage are the caller's to delete (list them first with list_branch_deltas).
create or replace function delete_branch_data(p_id uuid)
returns table (deltas integer, snapshots integer, batches integer)
language plpgsql volatile as $$
declare
  v_archived timestamptz;
  v_deltas integer;
  v_snapshots integer;
  v_batches integer;
begin
  select b.archived_at into v_archived from branches b where b.id = p_id for update;
  if not found then
    return query select 0, 0, 0;
    return;
  end if;
  if v_archived is null then
    raise exception 'branch % is not archived', p_id using errcode = 'DS409',
      detail = json_build_object('resource', 'branch', 'id', p_id, 'reason', 'state', 'state', 'active')::text;
  end if;
  if exists (select 1 from branches c where c.parent_id = p_id) then
    raise exception 'branch % has child branches', p_id using errcode = 'DS409',
      detail = json_build_object('resource', 'branch', 'id', p_id, 'reason', 'children')::text;
  end if;
  delete from branch_change_batches c where c.branch_id = p_id;
  get diagnostics v_batches = row_count;
  delete from branch_deltas d where d.branch_id = p_id;
  get diagnostics v_deltas = row_count;
  delete from branch_snapshots s where s.branch_id = p_id;
  get diagnostics v_snapshots = row_count;
  delete from branches b where b.id = p_id;
  return query select v_deltas, v_snapshots, v_batches;
end
$$;

select durasync_restrict_to_service_role(array[
  'create_branch', 'commit_branch_delta', 'list_branches', 'append_branch_changes',
  'pending_branch_batches', 'branches_with_pending_batches', 'list_branch_deltas',
  'record_branch_snapshot', 'latest_branch_snapshot', 'archive_branch', 'delete_branch_data'
]);
