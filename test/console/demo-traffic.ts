import { seededRandom } from '../../cli/demo/seeded-random.js';
import { DEMO_SERVICES, TrafficModel } from '../../cli/demo/traffic-model.js';
import type { DemoService } from '../../cli/demo/traffic-model.js';
import { createEmitter } from '../../src/emitter/index.js';
import type { Emitter } from '../../src/emitter/index.js';

/** `ssf demo`'s traffic (the same model, seeded), `requests` requests sent to `address`, all delivered on return. */
export async function sendDemoTraffic(address: string, token: string | undefined, requests: number): Promise<void> {
  const emitters = Object.fromEntries(
    DEMO_SERVICES.map((service) => [
      service,
      createEmitter({
        address,
        service,
        ...(token ? { token } : {}),
        tags: { env: 'demo' },
        logger: { warn: () => undefined },
      }),
    ]),
  ) as Record<DemoService, Emitter>;
  let sent = 0;
  const model = new TrafficModel(emitters, { random: seededRandom(42), slowDb: () => sent > requests / 3 && sent < (2 * requests) / 3 });
  model.tick();
  const pending: Array<Promise<unknown>> = [];
  for (; sent < requests; sent++) {
    pending.push(model.request());
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await Promise.all(pending);
  model.tick();
  await Promise.all(Object.values(emitters).map((e) => e.close()));
}
