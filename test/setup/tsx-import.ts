import { fileURLToPath } from 'node:url';

/** `node` arguments that run the TypeScript sources in a child process, worker threads included (tsx-workers.mjs). */
export const TSX_IMPORT = ['--import', fileURLToPath(new URL('./tsx-workers.mjs', import.meta.url))];
