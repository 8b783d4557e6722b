import { defineErrors } from '../errors/define-errors.js';

/** Refusals of the bearer-token check, on the gateway and the query API alike (docs/security.md). */
export const AuthErrors = defineErrors('AUTH', {
  AUTH_ERR_MISSING_TOKEN: { status: 401, retriable: false, text: 'this endpoint needs an Authorization: Bearer <token> header' },
  AUTH_ERR_BAD_TOKEN: { status: 401, retriable: false, text: 'the token is malformed or unknown' },
  AUTH_ERR_FORBIDDEN: { status: 403, retriable: false, text: 'this token may not do this' },
});

export type AuthErrorCode = (typeof AuthErrors.codes)[number];
