-- durasync core schema: the tables of DESIGN.md ("Data").
--
-- Plain PostgreSQL: runs the same on Supabase, on PostgreSQL 15+ and on PGlite. No extensions
-- (gen_random_uuid() is core since PostgreSQL 13). Applied by lib/db/migrate.ts, one file per
-- transaction, so no statement here may refuse to run inside a transaction block.
--
-- Conventions: ids are uuid; every table has created_at, and mutable tables updated_at, kept by the
-- durasync_touch_updated_at() trigger; each table has a unique constraint on its natural key, so
-- every write can be an upsert keyed on it (DESIGN.md, "Idempotency"). The operations the app
-- performs are SQL functions, in 0002_core_functions.sql.

create or replace function durasync_touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Sync: Google Drive <-> GitHub
-- ---------------------------------------------------------------------------------------------

-- A pairing of a Drive folder with a path of a GitHub repository branch.
create table sync_links (
  id               uuid primary key default gen_random_uuid(),
  drive_folder_id  text not null,
  github_repo      text not null,                     -- 'owner/name'
  github_branch    text not null default 'main',
  github_path      text not null default '',          -- folder inside the repository, '' = root
  direction        text not null default 'both'
                   check (direction in ('drive_to_github', 'github_to_drive', 'both')),
  enabled          boolean not null default true,
  drive_cursor     text,                              -- Drive changes page token
  github_cursor    text,                              -- last commit sha synced
  last_synced_at   timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint sync_links_natural_key unique (drive_folder_id, github_repo, github_branch, github_path)
);
create index sync_links_github_idx on sync_links (github_repo, github_branch);

-- The file map: one Drive file <-> one path in the repository, per link.
create table sync_files (
  id               uuid primary key default gen_random_uuid(),
  link_id          uuid not null references sync_links (id) on delete cascade,
  drive_file_id    text,                              -- null until the file exists in Drive
  github_path      text not null,
  drive_revision   text,
  drive_md5        text,
  github_sha       text,                              -- blob sha last written or read
  content_hash     text,                              -- sha256 of the content last synced
  deleted          boolean not null default false,
  synced_at        timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint sync_files_path_key unique (link_id, github_path),
  constraint sync_files_drive_file_key unique (link_id, drive_file_id)
);
create index sync_files_drive_file_idx on sync_files (drive_file_id) where drive_file_id is not null;

-- Jobs requested by users or schedules; each row is run by a `syncJob` workflow.
create table sync_jobs (
  id               uuid primary key default gen_random_uuid(),
  dedup_key        text not null,                     -- caller-supplied: enqueue is idempotent on it
  kind             text not null,
  link_id          uuid references sync_links (id) on delete set null,
  payload          jsonb not null default '{}'::jsonb,
  status           text not null default 'queued'
                   check (status in ('queued', 'running', 'succeeded', 'failed')),
  priority         integer not null default 0,        -- higher first
  run_after        timestamptz not null default now(),
  attempts         integer not null default 0 check (attempts >= 0),
  claimed_by       text,
  claimed_at       timestamptz,
  finished_at      timestamptz,
  result           jsonb,
  last_error       text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint sync_jobs_dedup_key_key unique (dedup_key)
);
create index sync_jobs_claimable_idx on sync_jobs (priority desc, run_after, created_at)
  where status = 'queued';
create index sync_jobs_status_idx on sync_jobs (status, updated_at);
create index sync_jobs_link_idx on sync_jobs (link_id) where link_id is not null;

-- OAuth tokens, encrypted at rest by the application (ciphertext + the id of the key used).
create table provider_tokens (
  id                        uuid primary key default gen_random_uuid(),
  provider                  text not null,           -- 'google' | 'github' | ...
  account_id                text not null,           -- the provider's subject / installation id
  scopes                    text[] not null default '{}',
  access_token_ciphertext   bytea not null,
  refresh_token_ciphertext  bytea,
  key_id                    text not null,           -- which encryption key sealed the ciphertexts
  expires_at                timestamptz,
  created_at                timestamptz not null default now(),
  updated_at                timestamptz not null default now(),
  constraint provider_tokens_natural_key unique (provider, account_id)
);
create index provider_tokens_expires_idx on provider_tokens (expires_at) where expires_at is not null;

-- ---------------------------------------------------------------------------------------------
-- Ingestion
-- ---------------------------------------------------------------------------------------------

-- People as providers know them; canonical_id points at the identity this one was resolved to.
create table identities (
  id               uuid primary key default gen_random_uuid(),
  provider         text not null,
  external_id      text not null,
  login            text,
  email            text,
  display_name     text,
  canonical_id     uuid references identities (id) on delete set null,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint identities_natural_key unique (provider, external_id)
);
create index identities_email_idx on identities (lower(email)) where email is not null;
create index identities_canonical_idx on identities (canonical_id) where canonical_id is not null;

-- Events pulled or pushed from providers, stored once: (source, external_id) is the natural key.
create table events (
  id               uuid primary key default gen_random_uuid(),
  source           text not null,                     -- 'github' | 'drive' | ...
  external_id      text not null,                     -- delivery id, event id...
  kind             text not null,
  occurred_at      timestamptz not null,
  actor_identity_id uuid references identities (id) on delete set null,
  payload          jsonb not null default '{}'::jsonb,
  payload_ref      text,                              -- object key when the payload is large
  processed_at     timestamptz,
  created_at       timestamptz not null default now(),
  constraint events_natural_key unique (source, external_id)
);
create index events_occurred_idx on events (occurred_at);
create index events_source_occurred_idx on events (source, occurred_at);
create index events_unprocessed_idx on events (created_at) where processed_at is null;
create index events_actor_idx on events (actor_identity_id) where actor_identity_id is not null;

create table tracked_keywords (
  id               uuid primary key default gen_random_uuid(),
  keyword          text not null check (keyword <> '' and keyword = lower(keyword)),
  enabled          boolean not null default true,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint tracked_keywords_keyword_key unique (keyword)
);

create table event_keywords (
  event_id         uuid not null references events (id) on delete cascade,
  keyword_id       uuid not null references tracked_keywords (id) on delete cascade,
  occurrences      integer not null default 1 check (occurrences > 0),
  created_at       timestamptz not null default now(),
  primary key (event_id, keyword_id)
);
create index event_keywords_keyword_idx on event_keywords (keyword_id);

-- One value per (day, metric, dimension); dimension '' means the total.
create table daily_metrics (
  day              date not null,
  metric           text not null,
  dimension        text not null default '',
  value            numeric not null default 0,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  primary key (day, metric, dimension)
);
create index daily_metrics_metric_idx on daily_metrics (metric, day);

-- ---------------------------------------------------------------------------------------------
-- Operations
-- ---------------------------------------------------------------------------------------------

-- Work given up on after Temporal's retries: one row per (source, ref), counting occurrences.
create table dead_letters (
  id               uuid primary key default gen_random_uuid(),
  source           text not null,                     -- 'webhook:github', 'sync_job', ...
  ref              text not null,                     -- the business key inside source
  error_type       text not null,
  error_message    text not null,
  details          jsonb not null default '{}'::jsonb,
  workflow_id      text,
  run_id           text,
  attempts         integer,
  occurrences      integer not null default 1,
  first_failed_at  timestamptz not null default now(),
  last_failed_at   timestamptz not null default now(),
  resolved_at      timestamptz,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint dead_letters_natural_key unique (source, ref)
);
create index dead_letters_unresolved_idx on dead_letters (last_failed_at) where resolved_at is null;

create table feature_flags (
  key              text primary key check (length(key) between 1 and 200),
  enabled          boolean not null,
  value            jsonb,
  description      text,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now()
);

-- ---------------------------------------------------------------------------------------------
-- Branch deltas
-- ---------------------------------------------------------------------------------------------

-- A branch's deltas are numbered 1, 2, 3... without gaps; head_seq is the last one committed
-- (0: none yet). A child branch starts from its parent's state at parent_seq.
create table branches (
  id               uuid primary key default gen_random_uuid(),
  name             text not null check (name <> ''),
  parent_id        uuid references branches (id) on delete restrict,
  parent_seq       bigint,
  head_seq         bigint not null default 0 check (head_seq >= 0),
  metadata         jsonb not null default '{}'::jsonb,
  created_at       timestamptz not null default now(),
  updated_at       timestamptz not null default now(),
  constraint branches_name_key unique (name),
  constraint branches_parent_seq_check check ((parent_id is null) = (parent_seq is null) and coalesce(parent_seq, 0) >= 0)
);
create index branches_parent_idx on branches (parent_id) where parent_id is not null;

create table branch_deltas (
  branch_id        uuid not null references branches (id) on delete cascade,
  seq              bigint not null check (seq >= 1),
  object_key       text not null,
  change_count     integer not null check (change_count >= 0),
  byte_size        bigint not null check (byte_size >= 0),
  checksum         text not null,
  start_lsn        text,                              -- source stream position covered, if known
  end_lsn          text,
  created_at       timestamptz not null default now(),
  primary key (branch_id, seq),
  constraint branch_deltas_object_key_key unique (object_key)
);

-- updated_at triggers
create trigger sync_links_touch before update on sync_links
  for each row execute function durasync_touch_updated_at();
create trigger sync_files_touch before update on sync_files
  for each row execute function durasync_touch_updated_at();
create trigger sync_jobs_touch before update on sync_jobs
  for each row execute function durasync_touch_updated_at();
create trigger provider_tokens_touch before update on provider_tokens
  for each row execute function durasync_touch_updated_at();
create trigger identities_touch before update on identities
  for each row execute function durasync_touch_updated_at();
create trigger tracked_keywords_touch before update on tracked_keywords
  for each row execute function durasync_touch_updated_at();
create trigger daily_metrics_touch before update on daily_metrics
  for each row execute function durasync_touch_updated_at();
create trigger dead_letters_touch before update on dead_letters
  for each row execute function durasync_touch_updated_at();
create trigger feature_flags_touch before update on feature_flags
  for each row execute function durasync_touch_updated_at();
create trigger branches_touch before update on branches
  for each row execute function durasync_touch_updated_at();
