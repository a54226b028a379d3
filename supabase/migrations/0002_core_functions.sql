-- durasync operations: every write and read the app performs is one of these functions, so that
-- PgStore (`select * from fn(p_x => $1)`) and SupabaseStore (`.rpc('fn', { p_x })`) stay thin and
-- behave identically. Parameters are named p_*; optional ones have defaults.
--
-- Errors the stores map to typed errors carry their own SQLSTATE and a JSON DETAIL:
--   DS404  not found           detail {"resource": "...", "id": "..."}
--   DS409  conflict / state    detail {"resource": "...", "id": "...", "reason": "...", ...}
--   DS412  branch seq gap      detail {"branchId": "...", "seq": n, "headSeq": n}
--   DS422  invalid argument    detail {"argument": "...", "reason": "..."}
-- (lib/db/errors.ts holds the same table.) Set-returning functions are used even for a single
-- row, so both transports always get an array of rows back.

create or replace function durasync_ping() returns text
language sql stable as $$
  select 'pong'::text
$$;

-- ---------------------------------------------------------------------------------------------
-- Feature flags
-- ---------------------------------------------------------------------------------------------

create or replace function set_feature_flag(
  p_key text,
  p_enabled boolean,
  p_value jsonb default null,
  p_description text default null
) returns setof feature_flags
language sql volatile as $$
  insert into feature_flags as f (key, enabled, value, description)
  values (p_key, p_enabled, p_value, p_description)
  on conflict (key) do update
    set enabled = excluded.enabled,
        value = excluded.value,
        description = coalesce(excluded.description, f.description)
  returning f.*
$$;

create or replace function get_feature_flag(p_key text) returns setof feature_flags
language sql stable as $$
  select * from feature_flags where key = p_key
$$;

create or replace function list_feature_flags() returns setof feature_flags
language sql stable as $$
  select * from feature_flags order by key
$$;

-- ---------------------------------------------------------------------------------------------
-- Sync jobs
-- ---------------------------------------------------------------------------------------------

-- Inserts a queued job unless one with the same dedup key exists; returns the job either way,
-- with created = false for an existing one (whatever its payload or status).
create or replace function enqueue_sync_job(
  p_dedup_key text,
  p_kind text,
  p_payload jsonb default '{}'::jsonb,
  p_link_id uuid default null,
  p_priority integer default 0,
  p_run_after timestamptz default null
) returns table (
  id uuid, dedup_key text, kind text, link_id uuid, payload jsonb, status text, priority integer,
  run_after timestamptz, attempts integer, claimed_by text, claimed_at timestamptz,
  finished_at timestamptz, result jsonb, last_error text, created_at timestamptz,
  updated_at timestamptz, created boolean
)
language plpgsql volatile as $$
#variable_conflict use_column
declare
  v_inserted integer;
begin
  if p_dedup_key is null or p_dedup_key = '' then
    raise exception 'dedup key must not be empty' using errcode = 'DS422',
      detail = json_build_object('argument', 'p_dedup_key', 'reason', 'empty')::text;
  end if;
  insert into sync_jobs (dedup_key, kind, payload, link_id, priority, run_after)
  values (p_dedup_key, p_kind, coalesce(p_payload, '{}'::jsonb), p_link_id,
          coalesce(p_priority, 0), coalesce(p_run_after, now()))
  on conflict on constraint sync_jobs_dedup_key_key do nothing;
  get diagnostics v_inserted = row_count;
  -- A new statement, hence a new snapshot: sees a row a concurrent enqueue committed meanwhile.
  return query
    select j.*, v_inserted > 0 from sync_jobs j where j.dedup_key = p_dedup_key;
end
$$;

-- Claims up to p_limit due queued jobs (highest priority, then oldest first): marks them running,
-- sets claimed_by/claimed_at, counts the attempt and returns them. Concurrent claimers skip each
-- other's locked rows, so a job is handed to one claimer only.
create or replace function claim_sync_jobs(p_worker text, p_limit integer default 1)
returns setof sync_jobs
language sql volatile as $$
  with picked as materialized (
    select c.id
      from sync_jobs c
     where c.status = 'queued' and c.run_after <= now()
     order by c.priority desc, c.run_after, c.created_at
     limit greatest(coalesce(p_limit, 1), 0)
       for update skip locked
  ), claimed as (
    update sync_jobs j
       set status = 'running', claimed_by = p_worker, claimed_at = now(), attempts = j.attempts + 1
      from picked
     where j.id = picked.id
    returning j.*
  )
  select * from claimed order by priority desc, run_after, created_at
$$;

-- Shared checks of complete/fail: locks the job and returns it, or raises DS404 / DS409.
-- A job already in p_final is returned as is (a retried call); only a running job may finish,
-- and only by its claimer when p_worker is given.
create or replace function durasync_lock_running_job(p_id uuid, p_worker text, p_final text)
returns sync_jobs
language plpgsql volatile as $$
declare
  v_job sync_jobs;
begin
  select * into v_job from sync_jobs where id = p_id for update;
  if not found then
    raise exception 'sync job % not found', p_id using errcode = 'DS404',
      detail = json_build_object('resource', 'sync_job', 'id', p_id)::text;
  end if;
  if v_job.status <> p_final and v_job.status <> 'running' then
    raise exception 'sync job % is %, not running', p_id, v_job.status using errcode = 'DS409',
      detail = json_build_object('resource', 'sync_job', 'id', p_id, 'reason', 'state',
                                 'state', v_job.status)::text;
  end if;
  if p_worker is not null and v_job.claimed_by is distinct from p_worker then
    raise exception 'sync job % is claimed by another worker', p_id using errcode = 'DS409',
      detail = json_build_object('resource', 'sync_job', 'id', p_id, 'reason', 'owner',
                                 'state', v_job.status)::text;
  end if;
  return v_job;
end
$$;

-- Marks a running job succeeded. Completing an already succeeded job returns it unchanged.
create or replace function complete_sync_job(
  p_id uuid,
  p_worker text default null,
  p_result jsonb default null
) returns setof sync_jobs
language plpgsql volatile as $$
declare
  v_job sync_jobs;
begin
  v_job := durasync_lock_running_job(p_id, p_worker, 'succeeded');
  if v_job.status = 'running' then
    update sync_jobs j
       set status = 'succeeded', finished_at = now(), result = p_result, last_error = null
     where j.id = p_id
    returning j.* into v_job;
  end if;
  return next v_job;
end
$$;

-- Marks a running job failed for good (Temporal already retried). Failing an already failed job
-- returns it unchanged.
create or replace function fail_sync_job(
  p_id uuid,
  p_error text,
  p_worker text default null
) returns setof sync_jobs
language plpgsql volatile as $$
declare
  v_job sync_jobs;
begin
  v_job := durasync_lock_running_job(p_id, p_worker, 'failed');
  if v_job.status = 'running' then
    update sync_jobs j
       set status = 'failed', finished_at = now(), last_error = p_error
     where j.id = p_id
    returning j.* into v_job;
  end if;
  return next v_job;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Branches
-- ---------------------------------------------------------------------------------------------

-- Creates a branch named p_name, optionally from a parent at p_parent_seq (default: the parent's
-- head). Idempotent on the name: an existing branch with the same parent (and, when given, the
-- same parent seq) is returned with created = false; a different one is a DS409 conflict.
create or replace function create_branch(
  p_name text,
  p_parent_id uuid default null,
  p_parent_seq bigint default null,
  p_metadata jsonb default '{}'::jsonb
) returns table (
  id uuid, name text, parent_id uuid, parent_seq bigint, head_seq bigint, metadata jsonb,
  created_at timestamptz, updated_at timestamptz, created boolean
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
           b.updated_at, v_inserted > 0
      from branches b where b.name = p_name;
end
$$;

create or replace function get_branch(p_id uuid) returns setof branches
language sql stable as $$
  select * from branches where id = p_id
$$;

-- Records delta p_seq of a branch and moves its head there, atomically. p_seq must be
-- head_seq + 1 (else DS412, nothing written). Committing a seq already committed returns the
-- stored delta with created = false and changes nothing: the caller compares checksums.
create or replace function commit_branch_delta(
  p_branch_id uuid,
  p_seq bigint,
  p_object_key text,
  p_change_count integer,
  p_byte_size bigint,
  p_checksum text,
  p_start_lsn text default null,
  p_end_lsn text default null
) returns table (
  branch_id uuid, seq bigint, object_key text, change_count integer, byte_size bigint,
  checksum text, start_lsn text, end_lsn text, created_at timestamptz, created boolean,
  head_seq bigint
)
language plpgsql volatile as $$
#variable_conflict use_column
declare
  v_head bigint;
begin
  -- The row lock serialises commits to one branch.
  select b.head_seq into v_head from branches b where b.id = p_branch_id for update;
  if not found then
    raise exception 'branch % not found', p_branch_id using errcode = 'DS404',
      detail = json_build_object('resource', 'branch', 'id', p_branch_id)::text;
  end if;

  if p_seq is not null and p_seq >= 1 and p_seq <= v_head then
    return query
      select d.branch_id, d.seq, d.object_key, d.change_count, d.byte_size, d.checksum,
             d.start_lsn, d.end_lsn, d.created_at, false, v_head
        from branch_deltas d where d.branch_id = p_branch_id and d.seq = p_seq;
    if not found then
      raise exception 'delta % of branch % is no longer stored', p_seq, p_branch_id using errcode = 'DS409',
        detail = json_build_object('resource', 'branch_delta', 'id', p_branch_id, 'reason', 'missing',
                                   'seq', p_seq)::text;
    end if;
    return;
  end if;

  if p_seq is null or p_seq <> v_head + 1 then
    raise exception 'branch % is at seq %, cannot commit seq %', p_branch_id, v_head, p_seq
      using errcode = 'DS412',
      detail = json_build_object('branchId', p_branch_id, 'seq', p_seq, 'headSeq', v_head)::text;
  end if;

  insert into branch_deltas (branch_id, seq, object_key, change_count, byte_size, checksum,
                             start_lsn, end_lsn)
  values (p_branch_id, p_seq, p_object_key, p_change_count, p_byte_size, p_checksum,
          p_start_lsn, p_end_lsn);
  update branches b set head_seq = p_seq where b.id = p_branch_id;

  return query
    select d.branch_id, d.seq, d.object_key, d.change_count, d.byte_size, d.checksum,
           d.start_lsn, d.end_lsn, d.created_at, true, p_seq
      from branch_deltas d where d.branch_id = p_branch_id and d.seq = p_seq;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Dead letters
-- ---------------------------------------------------------------------------------------------

-- Records (or, for the same source and ref, updates and counts again) work that was given up on.
create or replace function record_dead_letter(
  p_source text,
  p_ref text,
  p_error_type text,
  p_error_message text,
  p_details jsonb default '{}'::jsonb,
  p_workflow_id text default null,
  p_run_id text default null,
  p_attempts integer default null
) returns setof dead_letters
language sql volatile as $$
  insert into dead_letters as d (source, ref, error_type, error_message, details, workflow_id,
                                 run_id, attempts)
  values (p_source, p_ref, p_error_type, p_error_message, coalesce(p_details, '{}'::jsonb),
          p_workflow_id, p_run_id, p_attempts)
  on conflict on constraint dead_letters_natural_key do update
    set error_type = excluded.error_type,
        error_message = excluded.error_message,
        details = excluded.details,
        workflow_id = coalesce(excluded.workflow_id, d.workflow_id),
        run_id = coalesce(excluded.run_id, d.run_id),
        attempts = coalesce(excluded.attempts, d.attempts),
        occurrences = d.occurrences + 1,
        last_failed_at = now(),
        resolved_at = null
  returning d.*
$$;
