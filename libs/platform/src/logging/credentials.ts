/**
 * What a credential looks like in text: a JWT (three base64url parts, the header starting `eyJ`,
 * i.e. `{"`), or a personal API token (`oa_pat_…`). Used to keep them out of logs and ids even
 * where no field name says "token" (error messages, a token sent in the wrong header).
 */
const CREDENTIAL = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*|oa_pat_[A-Za-z0-9_-]{8,}/g;

export function looksLikeCredential(value: string): boolean {
  CREDENTIAL.lastIndex = 0;
  return CREDENTIAL.test(value);
}

/** Replaces anything credential-shaped in a text (a serialised log line) with `[redacted]`. */
export function redactCredentials(text: string): string {
  CREDENTIAL.lastIndex = 0;
  return CREDENTIAL.test(text) ? text.replace(CREDENTIAL, '[redacted]') : text;
}
