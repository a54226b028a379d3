-- Provider OAuth tokens: stored sealed (AES-256-GCM in the application, lib/tokens/seal.ts), one row
-- per provider and account (the durasync user id). The functions take and return the ciphertexts as
-- base64 text, so that pg and PostgREST (which renders bytea as hex) hand the adapters the same values.

create or replace function put_provider_token(
  p_provider text,
  p_account_id text,
  p_access_token text,            -- base64 of the sealed access token
  p_refresh_token text,           -- base64 of the sealed refresh token, null for tokens that do not refresh
  p_key_id text,
  p_expires_at timestamptz,       -- null: does not expire
  p_scopes text default ''        -- space-separated, as OAuth writes them
) returns table (
  provider text, account_id text, access_token text, refresh_token text, key_id text,
  expires_at timestamptz, scopes text[], updated_at timestamptz
)
language sql volatile as $$
  insert into provider_tokens as t (provider, account_id, access_token_ciphertext, refresh_token_ciphertext, key_id, expires_at, scopes)
  values (p_provider, p_account_id, decode(p_access_token, 'base64'), decode(p_refresh_token, 'base64'), p_key_id, p_expires_at,
          coalesce(string_to_array(nullif(btrim(p_scopes), ''), ' '), '{}'))
  on conflict on constraint provider_tokens_natural_key do update
     set access_token_ciphertext = excluded.access_token_ciphertext,
         -- a refresh grant may omit the refresh token: keep the one we have
         refresh_token_ciphertext = coalesce(excluded.refresh_token_ciphertext, t.refresh_token_ciphertext),
         key_id = excluded.key_id,
         expires_at = excluded.expires_at,
         scopes = case when excluded.scopes = '{}' then t.scopes else excluded.scopes end
  returning t.provider, t.account_id, encode(t.access_token_ciphertext, 'base64'), encode(t.refresh_token_ciphertext, 'base64'),
            t.key_id, t.expires_at, t.scopes, t.updated_at
$$;

create or replace function get_provider_token(p_provider text, p_account_id text) returns table (
  provider text, account_id text, access_token text, refresh_token text, key_id text,
  expires_at timestamptz, scopes text[], updated_at timestamptz
)
language sql stable as $$
  select t.provider, t.account_id, encode(t.access_token_ciphertext, 'base64'), encode(t.refresh_token_ciphertext, 'base64'),
         t.key_id, t.expires_at, t.scopes, t.updated_at
    from provider_tokens t
   where t.provider = p_provider and t.account_id = p_account_id
$$;

-- On Supabase, as 0003 does for the first functions: the named functions are for the service role
-- only. Later migrations call this for the functions they add.
create or replace function durasync_restrict_to_service_role(p_names text[]) returns void
language plpgsql volatile as $$
declare
  v_fn regprocedure;
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    return; -- plain PostgreSQL or PGlite: nothing to restrict
  end if;
  for v_fn in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = current_schema()::regnamespace and p.proname = any (p_names)
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      execute format('grant execute on function %s to service_role', v_fn);
    end if;
  end loop;
end
$$;

select durasync_restrict_to_service_role(array['put_provider_token', 'get_provider_token', 'durasync_restrict_to_service_role']);
