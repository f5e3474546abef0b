/**
 * One spelling per mailbox for uniqueness and login: Unicode NFKC, trimmed, lower-cased. Dots and
 * plus-tags are kept: they are the mailbox owner's business, not ours.
 */
export function normaliseEmail(email: string): string {
  return email.normalize('NFKC').trim().toLowerCase();
}
