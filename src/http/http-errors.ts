import { defineErrors } from '../errors/define-errors.js';

/** Refusals any route of any process can give (src/http/create-http-server.ts). */
export const HttpErrors = defineErrors('HTTP', {
  HTTP_ERR_NOT_FOUND: { status: 404, retriable: false, text: 'no such route' },
  HTTP_ERR_BAD_REQUEST: { status: 400, retriable: false, text: 'the request is malformed (empty or invalid JSON body, bad Content-Length)' },
  HTTP_ERR_SHUTTING_DOWN: {
    status: 503,
    retriable: true,
    retryAfterSeconds: 1,
    text: 'the server is shutting down; retry on another instance or in a moment',
  },
  HTTP_ERR_INTERNAL: { status: 500, retriable: false, text: 'internal error; see the server log for the request id' },
});
