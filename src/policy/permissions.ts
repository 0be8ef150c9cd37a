// Permission wildcards: `*`, `prefix:*` over whole segments, exact and case-sensitive otherwise.

/** A role's permissions, compiled for lookup. */
export interface CompiledGrants {
  all: boolean;
  exact: ReadonlySet<string>;
  /** `nodes:*` is stored as `nodes:`; it grants any permission that starts with it and goes on. */
  prefixes: readonly string[];
}

/** Compile the permission list of one role. */
export function compileGrants(permissions: readonly string[]): CompiledGrants {
  const exact = new Set<string>();
  const prefixes: string[] = [];
  let all = false;
  for (const p of permissions) {
    if (p === '*') all = true;
    else if (p.endsWith(':*')) prefixes.push(p.slice(0, -1));
    exact.add(p);
  }
  return { all, exact, prefixes };
}

/** True when the compiled grants give the permission. */
export function grants(g: CompiledGrants, permission: string): boolean {
  if (g.all || g.exact.has(permission)) return true;
  for (const prefix of g.prefixes) {
    if (permission.length > prefix.length && permission.startsWith(prefix)) return true;
  }
  return false;
}

/** True when any of the roles grants the permission; unknown roles grant nothing. */
export function rolesGrant(
  roles: readonly string[],
  table: ReadonlyMap<string, CompiledGrants>,
  permission: string,
): boolean {
  for (const role of roles) {
    const g = table.get(role);
    if (g && grants(g, permission)) return true;
  }
  return false;
}
