-- Run-time settings: values an operator changes without a deploy (poll intervals, batch sizes,
-- provider rate limits, flags), read by the workers and the ingress through lib/settings.ts, which
-- caches them for DURASYNC_SETTINGS_TTL. A key is set at one of three scopes: `global`,
-- `queue:<name>` or `source:<id>`; a reader asks for a key at a scope and gets the scope's value,
-- else the global one, else the default in lib/settings.ts. Which keys exist, at which scopes and
-- with which values, is checked by lib/settings.ts (`durasync settings set`); the table only keeps
-- the shape of scopes and keys.
create table settings (
  scope      text not null check (scope = 'global' or scope ~ '^(queue|source):[A-Za-z0-9._:/-]{1,200}$'),
  key        text not null check (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$' and length(key) <= 100),
  value      jsonb not null,
  updated_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (scope, key)
);
create trigger settings_touch before update on settings
  for each row execute function durasync_touch_updated_at();

create or replace function get_setting(p_scope text, p_key text) returns setof settings
language sql stable as $$
  select * from settings s where s.scope = p_scope and s.key = p_key
$$;

create or replace function set_setting(p_scope text, p_key text, p_value jsonb, p_updated_by text default null)
returns setof settings
language sql volatile as $$
  insert into settings as s (scope, key, value, updated_by)
  values (p_scope, p_key, p_value, p_updated_by)
  on conflict (scope, key) do update set value = excluded.value, updated_by = excluded.updated_by
  returning s.*
$$;

-- The row removed, or none when the key was not set at that scope.
create or replace function unset_setting(p_scope text, p_key text) returns setof settings
language sql volatile as $$
  delete from settings s where s.scope = p_scope and s.key = p_key returning s.*
$$;

create or replace function list_settings(p_scope text default null) returns setof settings
language sql stable as $$
  select * from settings s where p_scope is null or s.scope = p_scope order by s.key, s.scope
$$;

select durasync_restrict_to_service_role(array['get_setting', 'set_setting', 'unset_setting', 'list_settings']);
