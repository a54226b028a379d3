-- Daily analytics: per-day counts of stored events in daily_metrics (0001), recomputed from
-- `events` by aggregate_daily_metrics for a range of days (UTC). The metrics it owns:
--   events          dimension ''                       every event of the day
--   events          dimension <source>                 the day's events of one source
--   events_by_type  dimension <source>:<type or kind>  the day's events of one source and type
-- A re-run of a range writes the same rows: values are upserted on (day, metric, dimension), rows
-- of these metrics in the range that no longer have events are deleted, and a row whose value has
-- not changed is not touched (its updated_at stays).

create or replace function aggregate_daily_metrics(p_from date, p_to date) returns integer
language plpgsql volatile as $$
declare
  v_count integer;
begin
  if p_from is null or p_to is null or p_from > p_to then
    raise exception 'invalid range: from % is after to %', p_from, p_to using errcode = 'DS422',
      detail = json_build_object('from', p_from, 'to', p_to)::text;
  end if;
  with day_events as (
    select (e.occurred_at at time zone 'UTC')::date as day, e.source, coalesce(e.type, e.kind) as type
      from events e
     where e.occurred_at >= (p_from::timestamp at time zone 'UTC')
       and e.occurred_at < ((p_to + 1)::timestamp at time zone 'UTC')
  ), fresh as (
    select d.day, 'events'::text as metric, ''::text as dimension, count(*)::numeric as value
      from day_events d group by d.day
    union all
    select d.day, 'events', d.source, count(*)::numeric from day_events d group by d.day, d.source
    union all
    select d.day, 'events_by_type', d.source || ':' || d.type, count(*)::numeric
      from day_events d group by d.day, d.source, d.type
  ), upserted as (
    insert into daily_metrics as m (day, metric, dimension, value)
    select f.day, f.metric, f.dimension, f.value from fresh f
    on conflict (day, metric, dimension) do update set value = excluded.value
      where m.value is distinct from excluded.value
    returning 1
  ), deleted as (
    delete from daily_metrics m
     where m.metric in ('events', 'events_by_type') and m.day between p_from and p_to
       and not exists (select 1 from fresh f where f.day = m.day and f.metric = m.metric and f.dimension = m.dimension)
    returning 1
  )
  select count(*)::integer into v_count from fresh;
  return v_count;
end
$$;

-- The metrics of a range of days, by day, metric and dimension; one metric when p_metric is given.
-- The day comes back as text (YYYY-MM-DD), so no client turns it into a local midnight.
create or replace function list_daily_metrics(p_from date, p_to date, p_metric text default null)
returns table (day text, metric text, dimension text, value numeric)
language sql stable as $$
  select to_char(m.day, 'YYYY-MM-DD'), m.metric, m.dimension, m.value
    from daily_metrics m
   where m.day between p_from and p_to and (p_metric is null or m.metric = p_metric)
   order by m.day, m.metric, m.dimension
$$;

select durasync_restrict_to_service_role(array['aggregate_daily_metrics', 'list_daily_metrics']);
