-- Sync links as the sync workflows and the CLI use them: whose tokens a link syncs with, how it
-- resolves two-way conflicts, and whether it is usable (a revoked token marks it `needs_reauth`).

alter table sync_links
  add column if not exists user_id text not null default '',
  add column if not exists conflict_policy text not null default 'keep-both'
    check (conflict_policy in ('keep-both', 'drive-wins', 'github-wins')),
  add column if not exists status text not null default 'active'
    check (status in ('active', 'needs_reauth', 'paused')),
  add column if not exists status_reason text;

-- Creates a link, or returns the one with the same natural key (folder, repo, branch, path).
create or replace function create_sync_link(
  p_drive_folder_id text,
  p_github_repo text,
  p_user_id text,
  p_github_branch text default 'main',
  p_github_path text default '',
  p_direction text default 'both',
  p_conflict_policy text default 'keep-both'
) returns table (
  id uuid, drive_folder_id text, github_repo text, github_branch text, github_path text, direction text,
  enabled boolean, drive_cursor text, github_cursor text, last_synced_at timestamptz, created_at timestamptz,
  updated_at timestamptz, user_id text, conflict_policy text, status text, status_reason text, created boolean
)
language plpgsql volatile as $$
#variable_conflict use_column
declare
  v_id uuid;
  v_created boolean := true;
begin
  insert into sync_links (drive_folder_id, github_repo, github_branch, github_path, direction, user_id, conflict_policy)
  values (p_drive_folder_id, p_github_repo, p_github_branch, p_github_path, p_direction, p_user_id, p_conflict_policy)
  on conflict on constraint sync_links_natural_key do nothing
  returning sync_links.id into v_id;
  if v_id is null then
    v_created := false;
    select l.id into v_id from sync_links l
     where l.drive_folder_id = p_drive_folder_id and l.github_repo = p_github_repo
       and l.github_branch = p_github_branch and l.github_path = p_github_path;
  end if;
  return query
    select l.id, l.drive_folder_id, l.github_repo, l.github_branch, l.github_path, l.direction, l.enabled, l.drive_cursor,
           l.github_cursor, l.last_synced_at, l.created_at, l.updated_at, l.user_id, l.conflict_policy, l.status,
           l.status_reason, v_created
      from sync_links l where l.id = v_id;
end
$$;

create or replace function get_sync_link(p_id uuid) returns setof sync_links
language sql stable as $$
  select * from sync_links where id = p_id
$$;

create or replace function list_sync_links() returns setof sync_links
language sql stable as $$
  select * from sync_links order by created_at, id
$$;

create or replace function set_sync_link_status(p_id uuid, p_status text, p_reason text default null) returns setof sync_links
language sql volatile as $$
  update sync_links set status = p_status, status_reason = p_reason where id = p_id returning *
$$;

select durasync_restrict_to_service_role(array['create_sync_link', 'get_sync_link', 'list_sync_links', 'set_sync_link_status']);
