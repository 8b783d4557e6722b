// Runs the TypeScript sources in tests: tsx in this thread, and in every
// worker thread started from a .ts file (the gateway's Kafka thread). Node 20
// applies `--import` hooks to the main thread only, so a worker of the sources
// is started through a small module that registers tsx first. Production runs
// the built JavaScript and needs none of this.
import 'tsx';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const threads = require('node:worker_threads');
const tsxApi = pathToFileURL(require.resolve('tsx/esm/api').replace(/index\.cjs$/, 'index.mjs')).href;
const Base = threads.Worker;

class SourceWorker extends Base {
  constructor(filename, options = {}) {
    const href = filename instanceof URL ? filename.href : String(filename);
    if (options.eval !== true && href.endsWith('.ts')) {
      const url = filename instanceof URL ? href : pathToFileURL(href).href;
      super(`import(${JSON.stringify(tsxApi)}).then((t) => { t.register(); return import(${JSON.stringify(url)}); })`, { ...options, eval: true });
    } else {
      super(filename, options);
    }
  }
}

threads.Worker = SourceWorker;
syncBuiltinESMExports();
