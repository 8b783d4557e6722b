import { addAttributes, anyValueString } from './any-value.js';
import type { IInstrumentationScope, IResource } from './otlp-messages.js';

/**
 * Where OTLP's resource and scope go in SSF's one map (span tags, log
 * attributes, sample tags): under these key prefixes, so that the OTel views
 * (schema/clickhouse/0008_otel_views.sql) can take them apart again.
 * `service.name` is the span's service, not a tag.
 */
export const RESOURCE_PREFIX = 'otel.resource.';
export const SCOPE_NAME = 'otel.scope.name';
export const SCOPE_VERSION = 'otel.scope.version';
export const SCOPE_ATTRIBUTE_PREFIX = 'otel.scope.attributes.';

/** What every event of one resource and scope shares. */
export interface Origin {
  service: string;
  tags: Record<string, string>;
}

export function originOf(resource: IResource | null | undefined, scope: IInstrumentationScope | null | undefined): Origin {
  const tags: Record<string, string> = {};
  let service = '';
  for (const kv of resource?.attributes ?? []) {
    if (kv.key === 'service.name') service = anyValueString(kv.value);
    else tags[RESOURCE_PREFIX + (kv.key ?? '')] = anyValueString(kv.value);
  }
  if (scope?.name) tags[SCOPE_NAME] = scope.name;
  if (scope?.version) tags[SCOPE_VERSION] = scope.version;
  addAttributes(tags, scope?.attributes, SCOPE_ATTRIBUTE_PREFIX);
  return { service, tags };
}
