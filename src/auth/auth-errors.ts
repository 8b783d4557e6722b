import { defineErrors } from '../errors/define-errors.js';

/** Refusals of the bearer-token check, on the gateway and the query API alike (docs/security.md). */
export const AuthErrors = defineErrors('AUTH', {
  AUTH_ERR_MISSING_TOKEN: { status: 401, retriable: false, text: 'this endpoint needs an Authorization: Bearer <token> header' },
  AUTH_ERR_BAD_TOKEN: { status: 401, retriable: false, text: 'the token is malformed or unknown' },
  AUTH_ERR_FORBIDDEN: { status: 403, retriable: false, text: 'this token may not do this' },
  AUTH_ERR_HOST: {
    status: 403,
    retriable: false,
    text: 'authentication is off, so only requests addressed to this host by a loopback name (localhost, 127.0.0.1, [::1]) are answered',
  },
});

export type AuthErrorCode = (typeof AuthErrors.codes)[number];
