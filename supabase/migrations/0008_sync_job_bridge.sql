-- The Supabase job bridge (workers/job-bridge.ts): a worker of the `sync` queue claims rows of
-- sync_jobs and starts one `syncJob` workflow per row (workflow id `job:<id>`); the workflow then
-- owns the row and finishes it.
--
-- claim_sync_jobs gains two rules:
--   * a lease: with p_lease_seconds, a job `running` whose claimed_at is older than the lease is
--     claimable again. This recovers a claimer that died between its claim and the workflow start;
--     re-claiming a job whose workflow is running only costs a start answered "already started"
--     (and the re-claim pushes claimed_at, so that happens at most once per lease period).
--     Without p_lease_seconds (existing callers) running jobs are never re-claimed, as before.
--   * feature flags: a kind with a flag `jobs.<kind>` whose enabled = false is left alone (queued
--     jobs stay queued, expired leases are not taken) until the flag is enabled or removed.
--
-- A new parameter with a default would be an ambiguous overload beside the old two-parameter
-- function (for Postgres and PostgREST alike), so the old one is replaced.

drop function if exists claim_sync_jobs(text, integer);

create function claim_sync_jobs(
  p_worker text,
  p_limit integer default 1,
  p_lease_seconds double precision default null
) returns setof sync_jobs
language sql volatile as $$
  with picked as materialized (
    select c.id
      from sync_jobs c
     where c.run_after <= now()
       and (c.status = 'queued'
            or (p_lease_seconds is not null
                and c.status = 'running'
                and c.claimed_at < now() - make_interval(secs => greatest(p_lease_seconds, 0))))
       and not exists (select 1 from feature_flags f where f.key = 'jobs.' || c.kind and not f.enabled)
     order by c.priority desc, c.run_after, c.created_at
     limit greatest(coalesce(p_limit, 1), 0)
       for update of c skip locked
  ), claimed as (
    update sync_jobs j
       set status = 'running', claimed_by = p_worker, claimed_at = now(), attempts = j.attempts + 1
      from picked
     where j.id = picked.id
    returning j.*
  )
  select * from claimed order by priority desc, run_after, created_at
$$;

-- One job by id (empty when there is none).
create or replace function get_sync_job(p_id uuid) returns setof sync_jobs
language sql stable as $$
  select * from sync_jobs where id = p_id
$$;

-- Finishes a job for its `syncJob` workflow, which owns the row whatever claimer claimed it last
-- (so no worker check). p_status is 'succeeded' (p_result kept, last_error cleared) or 'failed'
-- (p_error in last_error, p_result kept when given). Idempotent: finishing a job already in
-- p_status returns it unchanged; a job in the other final status is a DS409 conflict. A queued
-- job (put back by hand while its workflow ran) may be finished too: the workflow did the work.
create or replace function finish_sync_job(
  p_id uuid,
  p_status text,
  p_result jsonb default null,
  p_error text default null
) returns setof sync_jobs
language plpgsql volatile as $$
declare
  v_job sync_jobs;
begin
  if p_status is null or p_status not in ('succeeded', 'failed') then
    raise exception 'a job finishes succeeded or failed, not %', coalesce(p_status, 'null') using errcode = 'DS422',
      detail = json_build_object('argument', 'p_status', 'reason', 'not a final status')::text;
  end if;
  select * into v_job from sync_jobs where id = p_id for update;
  if not found then
    raise exception 'sync job % not found', p_id using errcode = 'DS404',
      detail = json_build_object('resource', 'sync_job', 'id', p_id)::text;
  end if;
  if v_job.status = p_status then
    return next v_job;
    return;
  end if;
  if v_job.status in ('succeeded', 'failed') then
    raise exception 'sync job % is already %', p_id, v_job.status using errcode = 'DS409',
      detail = json_build_object('resource', 'sync_job', 'id', p_id, 'reason', 'state',
                                 'state', v_job.status)::text;
  end if;
  update sync_jobs j
     set status = p_status,
         finished_at = now(),
         result = p_result,
         last_error = case when p_status = 'failed' then p_error else null end
   where j.id = p_id
  returning j.* into v_job;
  return next v_job;
end
$$;

select durasync_restrict_to_service_role(array['claim_sync_jobs', 'get_sync_job', 'finish_sync_job']);
