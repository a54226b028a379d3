-- The file map of a link (sync_files) and the link's sync position, as the sync activities write them.

-- Upserts file map entries of one link in one call, keyed by path. An entry whose Drive file moved
-- to another path takes the file over: the old path's entry keeps its history but loses the file id
-- and is marked deleted (a rename or move). p_files: [{"github_path", "drive_file_id", "drive_revision",
-- "drive_md5", "github_sha", "content_hash", "deleted"}]; absent keys are stored as null / false.
create or replace function upsert_sync_files(p_link_id uuid, p_files jsonb) returns integer
language plpgsql volatile as $$
declare
  v_file jsonb;
  v_count integer := 0;
begin
  if jsonb_typeof(p_files) <> 'array' then
    raise exception 'p_files must be a JSON array' using errcode = 'DS422',
      detail = json_build_object('argument', 'p_files', 'reason', 'not an array')::text;
  end if;
  for v_file in select * from jsonb_array_elements(p_files) loop
    if coalesce(v_file->>'github_path', '') = '' then
      raise exception 'a file map entry needs a github_path' using errcode = 'DS422',
        detail = json_build_object('argument', 'p_files', 'reason', 'github_path missing')::text;
    end if;
    if v_file->>'drive_file_id' is not null then
      update sync_files set drive_file_id = null, deleted = true, synced_at = now()
       where link_id = p_link_id and drive_file_id = v_file->>'drive_file_id' and github_path <> v_file->>'github_path';
    end if;
    insert into sync_files as f (link_id, github_path, drive_file_id, drive_revision, drive_md5, github_sha, content_hash, deleted, synced_at)
    values (p_link_id, v_file->>'github_path', v_file->>'drive_file_id', v_file->>'drive_revision', v_file->>'drive_md5',
            v_file->>'github_sha', v_file->>'content_hash', coalesce((v_file->>'deleted')::boolean, false), now())
    on conflict on constraint sync_files_path_key do update
       set drive_file_id = excluded.drive_file_id, drive_revision = excluded.drive_revision, drive_md5 = excluded.drive_md5,
           github_sha = excluded.github_sha, content_hash = excluded.content_hash, deleted = excluded.deleted, synced_at = now();
    v_count := v_count + 1;
  end loop;
  return v_count;
end
$$;

create or replace function list_sync_files(p_link_id uuid) returns setof sync_files
language sql stable as $$
  select * from sync_files where link_id = p_link_id order by github_path
$$;

-- Records where the last sync of a link got to: Drive's changes page token and the last GitHub
-- commit synced (null keeps the stored value), and when.
create or replace function set_sync_link_cursors(p_id uuid, p_drive_cursor text default null, p_github_cursor text default null)
returns setof sync_links
language sql volatile as $$
  update sync_links
     set drive_cursor = coalesce(p_drive_cursor, drive_cursor),
         github_cursor = coalesce(p_github_cursor, github_cursor),
         last_synced_at = now()
   where id = p_id
  returning *
$$;

select durasync_restrict_to_service_role(array['upsert_sync_files', 'list_sync_files', 'set_sync_link_cursors']);
