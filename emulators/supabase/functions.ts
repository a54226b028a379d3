import type { ClientBase } from 'pg';

/**
 * Finding the function an RPC names and building the SQL PostgREST would run for it: arguments
 * travel as one JSON object, typed by json_to_record with the function's own parameter types, and
 * the result is serialised to JSON by Postgres (so int8, numeric and timestamps come out exactly
 * as PostgREST gives them).
 */

export type ReturnShape =
  | 'void' //             204, no body
  | 'scalar' //           the value
  | 'setof-scalar' //     an array of values
  | 'composite' //        one object
  | 'setof-composite'; // an array of objects

export interface FunctionParam {
  name: string;
  type: string;
  required: boolean;
}

export interface RpcFunction {
  schema: string;
  name: string;
  /** Input parameters in declaration order. */
  params: FunctionParam[];
  returns: ReturnShape;
}

interface CatalogRow {
  returns_set: boolean;
  ret_typtype: string;
  ret_typname: string;
  ndefaults: number;
  arg_names: string[];
  arg_modes: string[];
  arg_types: string[];
}

/** Every function of that name in the schema (overloads included). */
export async function findFunctions(client: ClientBase, schema: string, name: string): Promise<RpcFunction[]> {
  const { rows } = await client.query<CatalogRow>(
    `select p.proretset as returns_set, t.typtype::text as ret_typtype, t.typname::text as ret_typname,
            p.pronargdefaults::int as ndefaults,
            coalesce(p.proargnames, array[]::text[]) as arg_names,
            coalesce(p.proargmodes::text[], array[]::text[]) as arg_modes,
            array(select format_type(a.t, null)
                    from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality as a(t, n)
                   order by a.n) as arg_types
       from pg_proc p
       join pg_namespace n on n.oid = p.pronamespace
       join pg_type t on t.oid = p.prorettype
      where n.nspname = $1 and p.proname = $2 and p.prokind = 'f'`,
    [schema, name],
  );
  return rows.map((row) => toRpcFunction(schema, name, row));
}

function toRpcFunction(schema: string, name: string, row: CatalogRow): RpcFunction {
  const inputs = row.arg_types
    .map((type, i) => ({ type, name: row.arg_names[i] ?? '', mode: row.arg_modes[i] ?? 'i' }))
    .filter((arg) => arg.mode === 'i' || arg.mode === 'b' || arg.mode === 'v');
  const requiredCount = inputs.length - row.ndefaults;
  const params = inputs.map((arg, i) => ({ name: arg.name, type: arg.type, required: i < requiredCount }));
  const composite = row.ret_typtype === 'c' || (row.ret_typtype === 'p' && row.ret_typname === 'record');
  let returns: ReturnShape;
  if (row.ret_typname === 'void' && !row.returns_set) returns = 'void';
  else if (composite) returns = row.returns_set ? 'setof-composite' : 'composite';
  else returns = row.returns_set ? 'setof-scalar' : 'scalar';
  return { schema, name, params, returns };
}

/** The candidates callable with exactly these argument names (all required ones given, no unknown one). */
export function matchingFunctions(candidates: RpcFunction[], keys: string[]): RpcFunction[] {
  return candidates.filter(
    (fn) =>
      keys.every((key) => fn.params.some((p) => p.name === key)) &&
      fn.params.every((p) => !p.required || keys.includes(p.name)),
  );
}

/** The SQL statement calling `fn` with the given argument names; $1 is the JSON object of arguments. */
export function callStatement(fn: RpcFunction, keys: string[]): { text: string; usesArgs: boolean } {
  const given = fn.params.filter((p) => keys.includes(p.name));
  const call = `${ident(fn.schema)}.${ident(fn.name)}(${given.map((p) => `${ident(p.name)} := _args.${ident(p.name)}`).join(', ')})`;
  const args = given.length ? `json_to_record($1::json) as _args(${given.map((p) => `${ident(p.name)} ${p.type}`).join(', ')})` : '';
  const fromArgs = args ? ` from ${args}` : '';
  const fromCall = (alias: string) => (args ? ` from ${args} cross join lateral ${call} as ${alias}` : ` from ${call} as ${alias}`);
  switch (fn.returns) {
    case 'void':
      return { text: `select ${call}${fromArgs}`, usesArgs: given.length > 0 };
    case 'scalar':
      return { text: `select to_json(${call})::text as body${fromArgs}`, usesArgs: given.length > 0 };
    case 'setof-scalar':
      return { text: `select coalesce(json_agg(_t.v), '[]')::text as body${fromCall('_t(v)')}`, usesArgs: given.length > 0 };
    case 'composite':
      return { text: `select to_json(_t)::text as body${fromCall('_t')}`, usesArgs: given.length > 0 };
    case 'setof-composite':
      return { text: `select coalesce(json_agg(_t), '[]')::text as body, count(*)::int as n${fromCall('_t')}`, usesArgs: given.length > 0 };
  }
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
