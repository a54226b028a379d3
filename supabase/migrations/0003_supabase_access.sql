-- On Supabase, PostgREST exposes the public schema to the `anon` and `authenticated` roles, whose
-- keys ship to browsers. durasync's tables and functions are for the service role only, so there:
-- row level security is switched on (no policies: the service role bypasses RLS), and EXECUTE on
-- our functions is taken from PUBLIC, anon and authenticated and given to service_role.
--
-- On plain PostgreSQL and PGlite (no `anon` role) this file changes nothing: the application's
-- role owns the tables and PostgreSQL's default privileges apply.

do $$
declare
  v_table text;
  v_fn regprocedure;
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    return;
  end if;

  foreach v_table in array array[
    'sync_links', 'sync_files', 'sync_jobs', 'provider_tokens', 'identities', 'events',
    'tracked_keywords', 'event_keywords', 'daily_metrics', 'dead_letters', 'feature_flags',
    'branches', 'branch_deltas',
    'durasync_schema_migrations' -- lib/db/migrate.ts's bookkeeping, absent under other migrators
  ] loop
    continue when to_regclass(v_table) is null;
    execute format('alter table %I enable row level security', v_table);
    execute format('revoke all on table %I from anon, authenticated', v_table);
  end loop;

  for v_fn in
    select p.oid::regprocedure
      from pg_proc p
     where p.pronamespace = current_schema()::regnamespace
       and p.proname = any (array[
         'durasync_ping', 'durasync_touch_updated_at', 'durasync_lock_running_job',
         'set_feature_flag', 'get_feature_flag', 'list_feature_flags',
         'enqueue_sync_job', 'claim_sync_jobs', 'complete_sync_job', 'fail_sync_job',
         'create_branch', 'get_branch', 'commit_branch_delta', 'record_dead_letter'
       ])
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      execute format('grant execute on function %s to service_role', v_fn);
    end if;
  end loop;
end
$$;
