import { codedError, ErrorKind } from '@khala/platform';

export type SnapshotErrorCode = 'bad_topic' | 'snapshot_not_available' | 'forbidden_topic' | 'invalid_page_token' | 'reauth_required';

const KINDS: Record<SnapshotErrorCode, ErrorKind> = {
  bad_topic: 'invalid',
  snapshot_not_available: 'invalid',
  forbidden_topic: 'forbidden',
  invalid_page_token: 'invalid',
  reauth_required: 'unauthenticated',
};

/** The snapshot route's one error type (HTTP status from its kind). */
export class SnapshotError extends codedError(KINDS) {}
