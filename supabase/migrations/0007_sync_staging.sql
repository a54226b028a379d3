-- What a sync run moves between its activities without putting it in workflow history: file
-- contents staged by the activity that downloads them (from Drive or GitHub) for the activity that
-- writes them (to GitHub or Drive), keyed by the run. A run clears its staging when it ends; rows
-- of runs that never ended are removed by clear_staged_content's age argument.
create table sync_staged_content (
  run_id           text not null,
  link_id          uuid not null references sync_links (id) on delete cascade,
  path             text not null,
  content          bytea not null,
  sha256           text not null,
  created_at       timestamptz not null default now(),
  primary key (run_id, path)
);
create index sync_staged_content_age_idx on sync_staged_content (created_at);

-- Paths changed on both sides between two syncs of a link, and what the link's policy did.
create table sync_conflicts (
  id               uuid primary key default gen_random_uuid(),
  link_id          uuid not null references sync_links (id) on delete cascade,
  run_id           text not null,
  path             text not null,
  policy           text not null check (policy in ('keep-both', 'drive-wins', 'github-wins')),
  kept_as          text,
  drive_change     text not null check (drive_change in ('edit', 'delete')),
  github_change    text not null check (github_change in ('edit', 'delete')),
  created_at       timestamptz not null default now(),
  constraint sync_conflicts_run_path_key unique (run_id, path)
);
create index sync_conflicts_link_idx on sync_conflicts (link_id, created_at desc);

-- As 0003 does for the first tables: on Supabase, RLS on and nothing for anon / authenticated.
alter table sync_staged_content enable row level security;
alter table sync_conflicts enable row level security;
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    revoke all on table sync_staged_content, sync_conflicts from anon, authenticated;
  end if;
end
$$;

-- Stages contents of one run (upsert by path). p_files: [{"path", "content" (base64), "sha256"}].
create or replace function stage_sync_content(p_link_id uuid, p_run_id text, p_files jsonb) returns integer
language plpgsql volatile as $$
declare
  v_count integer;
begin
  if jsonb_typeof(p_files) <> 'array' then
    raise exception 'p_files must be a JSON array' using errcode = 'DS422',
      detail = json_build_object('argument', 'p_files', 'reason', 'not an array')::text;
  end if;
  insert into sync_staged_content as s (run_id, link_id, path, content, sha256)
  select p_run_id, p_link_id, f->>'path', decode(f->>'content', 'base64'), f->>'sha256'
    from jsonb_array_elements(p_files) f
  on conflict (run_id, path) do update set content = excluded.content, sha256 = excluded.sha256, created_at = now();
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- Staged contents of a run, for the given paths (a JSON array; all when null), base64-encoded.
create or replace function get_staged_content(p_run_id text, p_paths jsonb default null)
returns table (path text, content text, sha256 text)
language sql stable as $$
  select s.path, encode(s.content, 'base64'), s.sha256
    from sync_staged_content s
   where s.run_id = p_run_id and (p_paths is null or s.path in (select jsonb_array_elements_text(p_paths)))
   order by s.path
$$;

-- Removes a run's staging (p_run_id), or every run's staged before p_older_than; returns the count.
create or replace function clear_staged_content(p_run_id text default null, p_older_than timestamptz default null)
returns integer
language plpgsql volatile as $$
declare
  v_count integer;
begin
  delete from sync_staged_content
   where (p_run_id is not null and run_id = p_run_id)
      or (p_older_than is not null and created_at < p_older_than);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

-- Records a run's conflicts; idempotent on (run, path), so a retried activity records each once.
-- p_conflicts: [{"path", "policy", "kept_as", "drive", "github"}].
create or replace function record_sync_conflicts(p_link_id uuid, p_run_id text, p_conflicts jsonb) returns integer
language plpgsql volatile as $$
declare
  v_count integer;
begin
  insert into sync_conflicts (link_id, run_id, path, policy, kept_as, drive_change, github_change)
  select p_link_id, p_run_id, c->>'path', c->>'policy', c->>'kept_as', c->>'drive', c->>'github'
    from jsonb_array_elements(p_conflicts) c
  on conflict on constraint sync_conflicts_run_path_key do nothing;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

create or replace function list_sync_conflicts(p_link_id uuid, p_limit integer default 100) returns setof sync_conflicts
language sql stable as $$
  select * from sync_conflicts where link_id = p_link_id order by created_at desc, path limit greatest(coalesce(p_limit, 100), 0)
$$;

select durasync_restrict_to_service_role(array['stage_sync_content', 'get_staged_content', 'clear_staged_content',
                                               'record_sync_conflicts', 'list_sync_conflicts']);
