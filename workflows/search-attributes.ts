import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * durasync's custom search attributes. Every workflow sets the ones that apply, so that the Web UI
 * and `durasync list --query` can filter on them, e.g.
 * `DurasyncKind = "sync" AND DurasyncStatus = "conflicts"`.
 * They must be registered on the server first: the dev server started by `npm run dev` and by the
 * test setup registers them; on a cluster use `temporal operator search-attribute create`.
 */
export const DurasyncKind = defineSearchAttributeKey('DurasyncKind', SearchAttributeType.KEYWORD);
export const DurasyncLinkId = defineSearchAttributeKey('DurasyncLinkId', SearchAttributeType.KEYWORD);
export const DurasyncBranchId = defineSearchAttributeKey('DurasyncBranchId', SearchAttributeType.KEYWORD);
export const DurasyncSource = defineSearchAttributeKey('DurasyncSource', SearchAttributeType.KEYWORD);
export const DurasyncUserId = defineSearchAttributeKey('DurasyncUserId', SearchAttributeType.KEYWORD);
export const DurasyncStatus = defineSearchAttributeKey('DurasyncStatus', SearchAttributeType.KEYWORD);

export const DURASYNC_SEARCH_ATTRIBUTES = [
  DurasyncKind,
  DurasyncLinkId,
  DurasyncBranchId,
  DurasyncSource,
  DurasyncUserId,
  DurasyncStatus,
] as const;
