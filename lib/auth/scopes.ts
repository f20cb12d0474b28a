/**
 * What a credential may do. The scopes nest: `admin` can do all `write` can, and `write` all
 * `read` can (a machine that adds packages may read them back); `public` is what needs none.
 *
 * - read: the repository (`/repo`), resources and images, when reads are protected.
 * - write: add, remove, describe and list packages.
 * - admin: everything, plus maintenance (reindex, gc, fsck, reconcile).
 */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];
export type RequiredScope = Scope | 'public';

const RANK: Record<RequiredScope, number> = { public: 0, read: 1, write: 2, admin: 3 };

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** Whether a credential of scope `held` may call what needs `required`. */
export function grants(held: Scope, required: RequiredScope): boolean {
  return RANK[held] >= RANK[required];
}

/** The wider of two scopes (a token listed twice gets the wider). */
export function widest(a: Scope, b: Scope): Scope {
  return RANK[a] >= RANK[b] ? a : b;
}
