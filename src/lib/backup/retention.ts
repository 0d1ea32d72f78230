// Which backups (or snapshots) to delete, as a pure function of the list, the policy and
// the clock. Rules:
//  - keep-last N: the N newest are kept by that rule;
//  - max-age: anything older than now - maxAge is deleted;
//  - both given: an item is deleted when either rule says so;
//  - the newest item is NEVER deleted (a backup set never becomes empty), and neither is
//    anything in `protect` (e.g. the backup this run just made);
//  - neither rule given: nothing is deleted.

export interface RetentionPolicy {
  keepLast?: number;
  maxAgeMs?: number;
}

export interface Dated {
  id: string;
  createdAt: Date;
}

export interface RetentionDecision<T extends Dated> {
  keep: T[];
  delete: T[];
}

export function hasRetention(policy: RetentionPolicy): boolean {
  return policy.keepLast !== undefined || policy.maxAgeMs !== undefined;
}

export function selectForDeletion<T extends Dated>(
  items: readonly T[],
  policy: RetentionPolicy,
  now: Date,
  protect: ReadonlySet<string> = new Set(),
): RetentionDecision<T> {
  if (policy.keepLast !== undefined && (!Number.isInteger(policy.keepLast) || policy.keepLast < 1)) {
    throw new Error('keep-last must be a whole number >= 1');
  }
  // newest first; ties broken by id so the decision is deterministic
  const sorted = [...items].sort(
    (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
  );
  const keep: T[] = [];
  const del: T[] = [];
  if (!hasRetention(policy)) return { keep: sorted, delete: [] };
  const cutoff = policy.maxAgeMs !== undefined ? now.getTime() - policy.maxAgeMs : undefined;
  sorted.forEach((item, index) => {
    const beyondCount = policy.keepLast !== undefined && index >= policy.keepLast;
    const tooOld = cutoff !== undefined && item.createdAt.getTime() < cutoff;
    const deletable = (beyondCount || tooOld) && index > 0 && !protect.has(item.id);
    (deletable ? del : keep).push(item);
  });
  return { keep, delete: del };
}
