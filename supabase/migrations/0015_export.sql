-- Data export (exportEvents): the events of a time range, read in keyset order (occurred_at, id)
-- one chunk at a time, so a long export never holds a cursor or an offset open between activities.
--
-- `cursor_occurred_at` is occurred_at as exact text (microseconds, UTC): the next chunk starts
-- strictly after (cursor_occurred_at, id), and a JavaScript Date (milliseconds) would lose the
-- microseconds and repeat or skip events. The range is from <= occurred_at < to.

create index if not exists events_occurred_id_idx on events (occurred_at, id);

create or replace function list_events_for_export(
  p_from timestamptz,
  p_to timestamptz,
  p_after_occurred_at timestamptz default null,
  p_after_id uuid default null,
  p_limit integer default 1000
) returns table (event jsonb, cursor_occurred_at text)
language sql stable as $$
  select durasync_event_json(e),
         to_char(e.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    from events e
   where e.occurred_at >= p_from
     and e.occurred_at < p_to
     and (p_after_occurred_at is null
          or (e.occurred_at, e.id) > (p_after_occurred_at, coalesce(p_after_id, '00000000-0000-0000-0000-000000000000'::uuid)))
   order by e.occurred_at, e.id
   limit least(greatest(coalesce(p_limit, 1000), 1), 10000)
$$;

select durasync_restrict_to_service_role(array['list_events_for_export']);
