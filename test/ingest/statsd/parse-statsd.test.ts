import { describe, expect, it } from 'vitest';
import { decodeSpan, encodeSpan } from '../../../src/codec/span-codec.js';
import type { LogRecord, MetricSample, SpanEvent } from '../../../src/codec/types.js';
import { parseStatsdPacket, STATSD_LIMITS, StatsdErrors } from '../../../ingest/statsd/parse-statsd.js';
import type { StatsdErrorCode } from '../../../ingest/statsd/parse-statsd.js';
import { spanEvent } from '../../../src/codec/span-event.js';

const NOW = 1_700_000_000_123_456_789n;
const SEC = 1_000_000_000n;

function parse(packet: string | Buffer) {
  return parseStatsdPacket(packet, NOW);
}

function sample(fields: Partial<MetricSample> & Pick<MetricSample, 'type' | 'name'>): MetricSample {
  return { value: 0, timestamp: NOW, message: '', status: 'ok', sampleRate: 1, tags: {}, unit: '', scope: 'default', ...fields };
}

/** The one sample of a one-line packet that must be accepted. */
function one(line: string): MetricSample {
  const r = parse(line);
  expect(r.rejections).toEqual([]);
  expect(r.logs).toEqual([]);
  expect(r.samples).toHaveLength(1);
  return r.samples[0] as MetricSample;
}

/** The one log record of a one-line packet that must be accepted. */
function event(line: string | Buffer): LogRecord {
  const r = parse(line);
  expect(r.rejections).toEqual([]);
  expect(r.samples).toEqual([]);
  expect(r.logs).toHaveLength(1);
  return r.logs[0] as LogRecord;
}

/** The rejection of a one-line packet that must be refused. */
function refused(line: string): { code: StatsdErrorCode; reason: string } {
  const r = parse(line);
  expect(r.samples).toEqual([]);
  expect(r.logs).toEqual([]);
  expect(r.rejections).toHaveLength(1);
  const rej = r.rejections[0];
  expect(rej?.line).toBe(0);
  return { code: rej?.code ?? 'STATSD_ERR_SYNTAX', reason: rej?.reason ?? '' };
}

describe('metric types', () => {
  it.each<[string, MetricSample]>([
    ['hits:1|c', sample({ type: 'counter', name: 'hits', value: 1 })],
    ['temp:21.5|g', sample({ type: 'gauge', name: 'temp', value: 21.5 })],
    ['req.time:320|ms', sample({ type: 'histogram', name: 'req.time', value: 320, unit: 'ms' })],
    ['size:512|h', sample({ type: 'histogram', name: 'size', value: 512 })],
    ['lat:0.25|d', sample({ type: 'histogram', name: 'lat', value: 0.25, scope: 'global' })],
    ['users:alice|s', sample({ type: 'set', name: 'users', value: 0, message: 'alice' })],
  ])('%s', (line, expected) => {
    expect(one(line)).toEqual(expected);
  });

  it('keeps a set member verbatim, ":" included (sets are never packed)', () => {
    expect(one('ips:10.0.0.1:8080|s').message).toBe('10.0.0.1:8080');
  });

  it('accepts names with characters beyond [a-z0-9._] (only ":" and "|" end a name)', () => {
    expect(one('my-app.réponses@v2#x:1|c').name).toBe('my-app.réponses@v2#x');
  });
});

describe('values', () => {
  it.each<[string, number]>([
    ['0', 0],
    ['-0', 0],
    ['42', 42],
    ['-42', -42],
    ['+42', 42],
    ['3.25', 3.25],
    ['.5', 0.5],
    ['5.', 5],
    ['-.5', -0.5],
    ['1e3', 1000],
    ['2.5E-3', 0.0025],
    ['1e+2', 100],
    ['1234567890123456789', Number('1234567890123456789')],
  ])('reads %s as %d', (text, value) => {
    const v = one(`m:${text}|c`).value;
    expect(v).toBe(value);
    expect(Object.is(v, -0)).toBe(false);
  });

  it.each(['abc', '0x10', 'Infinity', '-Infinity', 'NaN', 'inf', ' 1', '1 ', '1_000', '1e', '1e+', '.', '-', '+', '1.2.3', '1e999', '--1'])(
    'refuses the value %j',
    (text) => {
      expect(refused(`m:${text}|g`).code).toBe('STATSD_ERR_VALUE');
    },
  );

  it('refuses an empty value, and an empty set member', () => {
    expect(refused('m:|c')).toEqual({ code: 'STATSD_ERR_VALUE', reason: 'the value is empty' });
    expect(refused('m:|s')).toEqual({ code: 'STATSD_ERR_VALUE', reason: 'the set member is empty' });
  });

  // DogStatsD and Veneur read "-5" on a gauge as the value -5; etsy statsd's
  // "gauge delta" would subtract 5. We follow DogStatsD: a sign is part of the number.
  it('reads a signed gauge as an absolute value, not an etsy-statsd delta', () => {
    const r = parse('g:10|g\ng:-5|g\ng:+3|g');
    expect(r.samples.map((s) => [s.type, s.value])).toEqual([
      ['gauge', 10],
      ['gauge', -5],
      ['gauge', 3],
    ]);
  });

  it('accepts negative and fractional counter increments', () => {
    expect(one('c:-2.5|c').value).toBe(-2.5);
  });
});

describe('packed values (DogStatsD 1.1)', () => {
  it("gives one sample per value, each with the line's rate, tags and timestamp", () => {
    const r = parse('resp:1:2.5:-3|h|@0.5|#a:b|T1700000000');
    expect(r.rejections).toEqual([]);
    const common = { type: 'histogram', name: 'resp', sampleRate: 0.5, tags: { a: 'b' }, timestamp: 1_700_000_000n * SEC } as const;
    expect(r.samples).toEqual([sample({ ...common, value: 1 }), sample({ ...common, value: 2.5 }), sample({ ...common, value: -3 })]);
  });

  it('gives each sample its own tags object', () => {
    const [a, b] = parse('t:1:2|ms|#k:v').samples;
    expect(a?.tags).not.toBe(b?.tags);
    if (a) a.tags['k'] = 'changed';
    expect(b?.tags).toEqual({ k: 'v' });
  });

  it.each(['c', 'g', 'ms', 'd'])('works for type %s', (type) => {
    expect(parse(`m:1:2:3|${type}`).samples.map((s) => s.value)).toEqual([1, 2, 3]);
  });

  it('refuses the whole line when one value is bad or empty (no partial line)', () => {
    expect(refused('m:1:x:3|h').code).toBe('STATSD_ERR_VALUE');
    expect(refused('m:1::3|h')).toEqual({ code: 'STATSD_ERR_VALUE', reason: 'the value is empty' });
    expect(refused('m:1:|h').code).toBe('STATSD_ERR_VALUE');
  });
});

describe('sample rate', () => {
  it.each<[string, number]>([
    ['@0.5', 0.5],
    ['@1', 1],
    ['@0.001', 0.001],
    ['@1e-2', 0.01],
    ['@1.0', 1],
  ])('reads %s', (section, rate) => {
    expect(one(`m:1|c|${section}`).sampleRate).toBe(rate);
  });

  it('defaults to 1', () => {
    expect(one('m:1|c').sampleRate).toBe(1);
  });

  it('is kept on gauges and sets too', () => {
    expect(one('m:1|g|@0.25').sampleRate).toBe(0.25);
    expect(one('m:x|s|@0.25').sampleRate).toBe(0.25);
  });

  it.each(['@0', '@1.5', '@-0.5', '@abc', '@', '@ 0.5', '@NaN'])('refuses %s', (section) => {
    expect(refused(`m:1|c|${section}`).code).toBe('STATSD_ERR_SAMPLE_RATE');
  });

  it('refuses two sample rates', () => {
    expect(refused('m:1|c|@0.5|@0.5')).toEqual({ code: 'STATSD_ERR_SYNTAX', reason: 'more than one sample rate' });
  });
});

describe('tags', () => {
  it('reads key:value pairs and bare tags (value "")', () => {
    expect(one('m:1|c|#env:prod,canary,route:/x').tags).toEqual({ env: 'prod', canary: '', route: '/x' });
  });

  it('splits a tag at its first ":" only', () => {
    expect(one('m:1|c|#url:http://h:80/p').tags).toEqual({ url: 'http://h:80/p' });
  });

  it('keeps an empty value after ":"', () => {
    expect(one('m:1|c|#k:').tags).toEqual({ k: '' });
  });

  it('lets the last of repeated keys win', () => {
    expect(one('m:1|c|#k:1,j:x,k:2').tags).toEqual({ k: '2', j: 'x' });
  });

  it('skips empty tags between commas and accepts an empty tag section', () => {
    expect(one('m:1|c|#,a:1,,b,').tags).toEqual({ a: '1', b: '' });
    expect(one('m:1|c|#').tags).toEqual({});
  });

  it('keeps spaces and unicode verbatim', () => {
    expect(one('m:1|c|# a : b ,région:Île-de-France').tags).toEqual({ ' a ': ' b ', région: 'Île-de-France' });
  });

  it('stores "__proto__" as an ordinary key', () => {
    const tags = one('m:1|c|#__proto__:x,constructor:y').tags;
    expect(Object.keys(tags)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(tags, '__proto__')?.value).toBe('x');
    expect(Object.getPrototypeOf(tags)).toBe(Object.prototype);
  });

  it('refuses a tag with an empty key', () => {
    expect(refused('m:1|c|#a:1,:v')).toEqual({ code: 'STATSD_ERR_TAG', reason: 'tag ":v" has an empty key' });
  });

  it(`accepts ${STATSD_LIMITS.tagsPerLine} tags and refuses one more`, () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}:v`).join(',');
    expect(Object.keys(one(`m:1|c|#${tags(1024)}`).tags)).toHaveLength(1024);
    expect(refused(`m:1|c|#${tags(1025)}`).code).toBe('STATSD_ERR_TAG');
  });

  it("counts container_id, host and the event attributes in the limit (the codec's limit per map)", () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}:v`).join(',');
    expect(Object.keys(one(`m:1|c|#${tags(1023)}|c:cid`).tags)).toHaveLength(1024);
    expect(refused(`m:1|c|#${tags(1024)}|c:cid`).code).toBe('STATSD_ERR_TAG');
    expect(Object.keys(one(`m:1|c|#${tags(1023)},container_id:x|c:cid`).tags)).toHaveLength(1024);
    expect(Object.keys(one(`_sc|s|0|h:h|#${tags(1023)}`).tags)).toHaveLength(1024);
    expect(refused(`_sc|s|0|h:h|c:c|#${tags(1023)}`).code).toBe('STATSD_ERR_TAG');
    expect(Object.keys(event(`_e{1,1}:t|x|#${tags(1021)}`).attributes)).toHaveLength(1024);
    expect(refused(`_e{1,1}:t|x|#${tags(1022)}`).code).toBe('STATSD_ERR_TAG');
  });

  it('refuses a tag key over 1,024 UTF-8 bytes, counted in bytes', () => {
    expect(Object.keys(one(`m:1|c|#${'k'.repeat(1024)}:v`).tags)[0]).toHaveLength(1024);
    expect(refused(`m:1|c|#${'k'.repeat(1025)}:v`).code).toBe('STATSD_ERR_TOO_LONG');
    expect(refused(`m:1|c|#${'é'.repeat(513)}`).code).toBe('STATSD_ERR_TOO_LONG'); // 1,026 bytes, 513 characters
  });

  it('refuses two tag sections', () => {
    expect(refused('m:1|c|#a|#b')).toEqual({ code: 'STATSD_ERR_SYNTAX', reason: 'more than one tag section' });
  });
});

describe('Veneur magic tags', () => {
  it('veneurlocalonly gives scope LOCAL and is removed', () => {
    expect(one('m:1|c|#a:1,veneurlocalonly')).toEqual(sample({ type: 'counter', name: 'm', value: 1, tags: { a: '1' }, scope: 'local' }));
  });

  it('veneurglobalonly gives scope GLOBAL and is removed, whatever its value', () => {
    const s = one('m:1|h|#veneurglobalonly:true,b');
    expect(s.scope).toBe('global');
    expect(s.tags).toEqual({ b: '' });
  });

  it('the first magic tag wins and both are removed (Veneur keeps the first)', () => {
    const s = one('m:1|c|#veneurglobalonly,veneurlocalonly');
    expect(s.scope).toBe('global');
    expect(s.tags).toEqual({});
  });

  it('overrides the GLOBAL scope of a distribution', () => {
    expect(one('m:1|d|#veneurlocalonly').scope).toBe('local');
  });

  it('matches the key exactly (a longer key is an ordinary tag)', () => {
    const s = one('m:1|c|#veneurlocalonlyish:1');
    expect(s.scope).toBe('default');
    expect(s.tags).toEqual({ veneurlocalonlyish: '1' });
  });

  it('applies to service checks but not to events (an event has no scope)', () => {
    expect(parse('_sc|chk|0|#veneurlocalonly').samples[0]?.scope).toBe('local');
    expect(event('_e{1,1}:t|x|#veneurlocalonly').attributes['veneurlocalonly']).toBe('');
  });
});

describe('container id (DogStatsD 1.2) and timestamp (DogStatsD 1.3)', () => {
  it('turns |c: into the tag container_id, which wins over a tag of that name', () => {
    expect(one('m:1|c|c:abc123|#container_id:other,a:b').tags).toEqual({ container_id: 'abc123', a: 'b' });
    expect(one('m:1|c|#container_id:other|c:ci-abc,in-42').tags).toEqual({ container_id: 'ci-abc,in-42' });
  });

  it('refuses an empty or repeated container id', () => {
    expect(refused('m:1|c|c:')).toEqual({ code: 'STATSD_ERR_SYNTAX', reason: 'the container id is empty' });
    expect(refused('m:1|c|c:a|c:b').code).toBe('STATSD_ERR_SYNTAX');
  });

  it('turns |T<unix seconds> into the sample timestamp in ns', () => {
    expect(one('m:1|g|T1700000000').timestamp).toBe(1_700_000_000n * SEC);
    expect(one('m:1|g|T9223372036').timestamp).toBe(9_223_372_036n * SEC);
  });

  it('accepts a timestamp on every type', () => {
    const r = parse(['a:1|c', 'b:1|g', 'c:1|ms', 'd:1|h', 'e:1|d', 'f:x|s'].map((l) => `${l}|T1`).join('\n'));
    expect(r.samples.map((s) => s.timestamp)).toEqual(Array(6).fill(SEC));
  });

  it.each(['T', 'T0', 'T-1', 'T1.5', 'T1e9', 'Tabc', 'T9223372037', 'T1700000000000000000000'])('refuses %s', (section) => {
    expect(refused(`m:1|g|${section}`).code).toBe('STATSD_ERR_TIMESTAMP');
  });

  it('refuses two timestamps', () => {
    expect(refused('m:1|g|T1|T2').code).toBe('STATSD_ERR_SYNTAX');
  });

  it('ignores the origin-detection fields e: and card: that carry nothing for us', () => {
    expect(one('m:1|c|#a:b|c:cid|e:it-false,cn-app|card:low')).toEqual(sample({ type: 'counter', name: 'm', value: 1, tags: { a: 'b', container_id: 'cid' } }));
  });

  it('takes sections in any order', () => {
    const expected = sample({ type: 'counter', name: 'm', value: 2, sampleRate: 0.5, timestamp: 5n * SEC, tags: { a: 'b', container_id: 'x' } });
    expect(one('m:2|c|@0.5|#a:b|c:x|T5')).toEqual(expected);
    expect(one('m:2|c|T5|c:x|#a:b|@0.5')).toEqual(expected);
  });
});

describe('line structure', () => {
  it.each<[string, StatsdErrorCode]>([
    ['just-a-name', 'STATSD_ERR_SYNTAX'],
    ['name:1', 'STATSD_ERR_SYNTAX'],
    ['name|c', 'STATSD_ERR_SYNTAX'],
    ['na|me:1|c', 'STATSD_ERR_SYNTAX'],
    [':1|c', 'STATSD_ERR_NAME_MISSING'],
    ['m:1|', 'STATSD_ERR_TYPE_UNKNOWN'],
    ['m:1||@0.5', 'STATSD_ERR_TYPE_UNKNOWN'],
    ['m:1|x', 'STATSD_ERR_TYPE_UNKNOWN'],
    ['m:1|m', 'STATSD_ERR_TYPE_UNKNOWN'],
    ['m:1|msx', 'STATSD_ERR_TYPE_UNKNOWN'],
    ['m:1|C', 'STATSD_ERR_TYPE_UNKNOWN'],
    ['m:1|c ', 'STATSD_ERR_TYPE_UNKNOWN'],
    ['m:1|c|', 'STATSD_ERR_SYNTAX'],
    ['m:1|c||#a', 'STATSD_ERR_SYNTAX'],
    ['m:1|c|x:y', 'STATSD_ERR_SYNTAX'],
    ['m:1|c|a', 'STATSD_ERR_SYNTAX'],
    [' ', 'STATSD_ERR_SYNTAX'],
  ])('refuses %j with %s', (line, code) => {
    expect(refused(line).code).toBe(code);
  });

  it('names the unknown section', () => {
    expect(refused('m:1|c|x:y').reason).toBe('unknown section "x:y"');
  });

  it('reads a metric named like the prefixes of events and checks', () => {
    expect(one('_sc:1|c').name).toBe('_sc');
    expect(one('_e:1|c').name).toBe('_e');
  });

  it('accepts a name of 1,024 UTF-8 bytes and refuses one byte more', () => {
    expect(one(`${'n'.repeat(1024)}:1|c`).name).toHaveLength(1024);
    expect(refused(`${'n'.repeat(1025)}:1|c`).code).toBe('STATSD_ERR_TOO_LONG');
    expect(refused(`${'€'.repeat(342)}:1|c`).code).toBe('STATSD_ERR_TOO_LONG'); // 1,026 bytes
  });

  it('accepts a line of exactly 64 KiB and refuses a longer one, giving back only the start of it', () => {
    const prefix = 'big:';
    const suffix = '|s';
    const member = (bytes: number) => 'x'.repeat(bytes - prefix.length - suffix.length);
    expect(one(`${prefix}${member(65_536)}${suffix}`).message).toHaveLength(65_536 - 6);
    const r = parse(`${prefix}${member(65_537)}${suffix}`);
    expect(r.rejections).toEqual([
      { line: 0, code: 'STATSD_ERR_TOO_LONG', reason: 'the line is longer than 65536 bytes', text: `${prefix}${'x'.repeat(1020)}` },
    ]);
  });

  it('counts the line limit in UTF-8 bytes', () => {
    // 21,846 "€" are 65,538 bytes but only 21,846 UTF-16 units.
    expect(refused(`big:${'€'.repeat(21_846)}|s`).code).toBe('STATSD_ERR_TOO_LONG');
  });
});

describe('datagrams', () => {
  it('parses every line, ignoring empty lines and a trailing newline; \\r\\n works too', () => {
    const r = parse('a:1|c\n\nb:2|g\r\nc:3|ms\r\n\n');
    expect(r.rejections).toEqual([]);
    expect(r.samples.map((s) => [s.name, s.value])).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
    ]);
  });

  it('accepts a Buffer like a string, decoding UTF-8', () => {
    const text = 'températures:1|g|#pièce:salon\n_e{5,6}:été|chaud|#x';
    expect(parse(Buffer.from(text, 'utf8'))).toEqual(parse(text));
    expect(parse(Buffer.from(text, 'utf8')).samples[0]?.name).toBe('températures');
  });

  it('counts empty lines in the line index of a rejection', () => {
    const r = parse('\n\nok:1|c\n\nbad\n');
    expect(r.samples).toHaveLength(1);
    expect(r.rejections.map((x) => x.line)).toEqual([4]);
  });

  it('gives back the refused line without its \\r', () => {
    expect(parse('bad\r\n').rejections[0]?.text).toBe('bad');
  });

  it('returns nothing for an empty datagram', () => {
    expect(parse('')).toEqual({ samples: [], logs: [], rejections: [] });
    expect(parse('\n\r\n')).toEqual({ samples: [], logs: [], rejections: [] });
  });

  it('stamps every sample and log without a timestamp with receivedNs', () => {
    const r = parseStatsdPacket('a:1|c\n_e{1,1}:t|x\n_sc|s|0', 42n);
    expect([...r.samples, ...r.logs].map((x) => x.timestamp)).toEqual([42n, 42n, 42n]);
  });
});

describe('events', () => {
  it('turns an event into a log record', () => {
    expect(event('_e{6,14}:deploy|shipped v1.2.3|#env:prod,team:core')).toEqual({
      timestamp: NOW,
      severity: 'info',
      severityNumber: 9,
      body: 'deploy\nshipped v1.2.3',
      attributes: { env: 'prod', team: 'core', 'event.title': 'deploy', 'event.priority': 'normal', 'event.alert_type': 'info' },
    });
  });

  it('reads every section', () => {
    const line = '_e{5,4}:title|text|d:1700000000|h:web-1|k:agg|p:low|s:jenkins|t:warning|#a:b|c:cid|e:ext|card:high';
    expect(event(line)).toEqual({
      timestamp: 1_700_000_000n * SEC,
      severity: 'warn',
      severityNumber: 13,
      body: 'title\ntext',
      attributes: {
        a: 'b',
        'event.title': 'title',
        'event.priority': 'low',
        'event.alert_type': 'warning',
        'event.aggregation_key': 'agg',
        'event.source_type': 'jenkins',
        host: 'web-1',
        container_id: 'cid',
      },
    });
  });

  it.each<[string, LogRecord['severity'], number]>([
    ['error', 'error', 17],
    ['warning', 'warn', 13],
    ['info', 'info', 9],
    ['success', 'info', 9],
  ])('maps alert type %s to %s (%d)', (alert, severity, severityNumber) => {
    const log = event(`_e{1,1}:t|x|t:${alert}`);
    expect([log.severity, log.severityNumber, log.attributes['event.alert_type']]).toEqual([severity, severityNumber, alert]);
  });

  it('unescapes "\\n" in the text; the lengths are those of the escaped text', () => {
    expect(event('_e{5,12}:title|line1\\nline2').body).toBe('title\nline1\nline2');
  });

  it('leaves the title as sent (only the text is escaped by clients)', () => {
    expect(event('_e{6,1}:C:\\new|x').attributes['event.title']).toBe('C:\\new');
  });

  it('counts the lengths in UTF-8 bytes', () => {
    // "café" is 5 bytes, "日本" 6 bytes, "🚀" 4 bytes (two UTF-16 units).
    expect(event('_e{5,10}:café|日本🚀').body).toBe('café\n日本🚀');
    expect(event(Buffer.from('_e{4,4}:🚀|ab|c')).body).toBe('🚀\nab|c');
  });

  it('refuses lengths counted in UTF-16 units (as some clients send them) when they differ from the bytes', () => {
    expect(refused('_e{4,2}:café|日本')).toEqual({ code: 'STATSD_ERR_EVENT', reason: 'the title is not 4 UTF-8 bytes followed by "|"' });
  });

  it('uses the lengths, so "|" may appear inside the title and the text', () => {
    const log = event('_e{3,5}:a|b|x|y|z|p:low');
    expect(log.body).toBe('a|b\nx|y|z');
    expect(log.attributes['event.priority']).toBe('low');
  });

  it('accepts an empty text (the body is then the title alone)', () => {
    expect(event('_e{5,0}:title|').body).toBe('title');
    expect(event('_e{5,0}:title||t:error').severity).toBe('error');
  });

  it('lets its own attributes win over tags of the same name', () => {
    const a = event('_e{1,1}:t|x|h:real|#host:tag,event.title:fake').attributes;
    expect([a['host'], a['event.title']]).toEqual(['real', 't']);
  });

  it.each<[string, StatsdErrorCode]>([
    ['_e{5,4}title|text', 'STATSD_ERR_EVENT'],
    ['_e{5}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{5,4:title|text', 'STATSD_ERR_EVENT'],
    ['_e{,4}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{x,4}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{5,-4}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{1234567,4}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{0,4}:|text', 'STATSD_ERR_EVENT'],
    ['_e{4,4}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{6,4}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{5,3}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{5,5}:title|text', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|p:high', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|t:critical', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|h:a|h:b', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|#a|#b', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|x:y', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|@0.5', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|c:', 'STATSD_ERR_EVENT'],
    ['_e{5,4}:title|text|d:yesterday', 'STATSD_ERR_TIMESTAMP'],
    ['_e{5,4}:title|text|d:-5', 'STATSD_ERR_TIMESTAMP'],
    ['_e{5,4}:title|text|#:v', 'STATSD_ERR_TAG'],
  ])('refuses %j with %s', (line, code) => {
    expect(refused(line).code).toBe(code);
  });
});

describe('service checks', () => {
  it.each<[string, MetricSample['status']]>([
    ['0', 'ok'],
    ['1', 'warning'],
    ['2', 'critical'],
    ['3', 'unknown'],
  ])('status %s is %s', (digit, status) => {
    expect(one(`_sc|db.up|${digit}`)).toEqual(sample({ type: 'status', name: 'db.up', status }));
  });

  it('reads every section; the message is last and runs to the end of the line', () => {
    expect(one('_sc|db.up|2|d:1700000000|h:db-1|#env:prod,veneurglobalonly|c:cid|card:low|m:replica down|lag 30s\\nretrying')).toEqual(
      sample({
        type: 'status',
        name: 'db.up',
        status: 'critical',
        timestamp: 1_700_000_000n * SEC,
        message: 'replica down|lag 30s\nretrying',
        tags: { env: 'prod', host: 'db-1', container_id: 'cid' },
        scope: 'global',
      }),
    );
  });

  it('accepts an empty message', () => {
    expect(one('_sc|x|0|m:').message).toBe('');
  });

  it.each<[string, StatsdErrorCode]>([
    ['_sc|', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc||0', 'STATSD_ERR_NAME_MISSING'],
    ['_sc|name|', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|4', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|01', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|ok', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|0|', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|0|x:y', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|0|h:a|h:b', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|0|#a|#b', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|0|d:1|d:2', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|0|c:', 'STATSD_ERR_SERVICE_CHECK'],
    ['_sc|name|0|d:0', 'STATSD_ERR_TIMESTAMP'],
    ['_sc|name|0|#:v', 'STATSD_ERR_TAG'],
    [`_sc|${'n'.repeat(1025)}|0`, 'STATSD_ERR_TOO_LONG'],
  ])('refuses %j with %s', (line, code) => {
    expect(refused(line).code).toBe(code);
  });
});

describe('rejections', () => {
  // One bad line of each code between good lines: the good lines are kept, the
  // bad one is reported with its index, and every code in the catalog is exercised.
  const bad: Array<[StatsdErrorCode, string]> = [
    ['STATSD_ERR_SYNTAX', 'no-colon|c'],
    ['STATSD_ERR_NAME_MISSING', ':1|c'],
    ['STATSD_ERR_TYPE_UNKNOWN', 'm:1|q'],
    ['STATSD_ERR_VALUE', 'm:one|c'],
    ['STATSD_ERR_SAMPLE_RATE', 'm:1|c|@2'],
    ['STATSD_ERR_TAG', 'm:1|c|#:v'],
    ['STATSD_ERR_TIMESTAMP', 'm:1|g|T0'],
    ['STATSD_ERR_EVENT', '_e{9,4}:title|text'],
    ['STATSD_ERR_SERVICE_CHECK', '_sc|db|9'],
    ['STATSD_ERR_TOO_LONG', `${'n'.repeat(1025)}:1|c`],
  ];

  it('covers the whole catalog', () => {
    expect(bad.map(([code]) => code).sort()).toEqual([...StatsdErrors.codes].sort());
  });

  it.each(bad)('%s refuses its line only', (code, line) => {
    const r = parse(['before:1|c', '_e{2,2}:ev|ok', line, '_sc|after|0'].join('\n'));
    expect(r.samples.map((s) => s.name)).toEqual(['before', 'after']);
    expect(r.logs.map((l) => l.body)).toEqual(['ev\nok']);
    expect(r.rejections).toHaveLength(1);
    expect(r.rejections[0]).toMatchObject({ line: 2, code, text: line.slice(0, 1024) });
    expect(r.rejections[0]?.reason.length).toBeGreaterThan(0);
  });

  it('reports every bad line of a datagram, each with its index', () => {
    const r = parse(bad.map(([, line]) => line).join('\n'));
    expect(r.samples).toEqual([]);
    expect(r.rejections.map((x) => [x.line, x.code])).toEqual(bad.map(([code], i) => [i, code]));
  });

  it('keeps reasons short when the input is long', () => {
    expect(refused(`m:1|${'x'.repeat(500)}`).reason.length).toBeLessThan(120);
  });
});

describe('SSF validity', () => {
  it('gives samples and logs that pass the codec unchanged, at the limits too', () => {
    const tags = (n: number) => Array.from({ length: n }, (_, i) => `t${i}:v`).join(',');
    const packet = [
      'a:1|c|@0.5|#env:prod,bare|c:cid|T1700000000',
      'b:-2.5|g',
      'c:1:2:3|ms|#veneurlocalonly',
      'd:0.25|d',
      'e:member|s',
      `${'n'.repeat(1024)}:1|h|#${'k'.repeat(1024)}:${'v'.repeat(4096)}`,
      `f:1|c|#${tags(1023)}|c:cid`,
      `g:${'m'.repeat(65_532)}|s`,
      '_sc|h|3|h:host|m:down',
      `_e{5,4}:title|text|t:error|#${tags(1017)}|h:x|k:k|s:s|c:c`,
    ].join('\n');
    const r = parse(packet);
    expect(r.rejections).toEqual([]);
    const carrier: SpanEvent = spanEvent({ metrics: r.samples, logs: r.logs });
    const decoded = decodeSpan(encodeSpan(carrier));
    expect(decoded.rejections).toEqual([]);
    expect(decoded.ok && decoded.span.metrics).toEqual(r.samples);
    expect(decoded.ok && decoded.span.logs).toEqual(r.logs);
  });
});

describe('robustness', () => {
  // A small deterministic PRNG, so a failure can be replayed.
  function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s + 0x6d2b79f5) >>> 0;
      let t = Math.imul(s ^ (s >>> 15), 1 | s);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  it('never throws, whatever the bytes, and accounts for every non-empty line', () => {
    const random = rng(1234);
    const alphabet = 'ab1.:|#@,_e{}sc-+T\nd:h:m:p:t:0123é🚀\\\r ';
    for (let i = 0; i < 20_000; i++) {
      const len = Math.floor(random() * 60);
      let text = '';
      for (let j = 0; j < len; j++) text += alphabet[Math.floor(random() * alphabet.length)] ?? '';
      if (random() < 0.3) text = ['_e{', '_sc|', 'm:', '_e{3,3}:'][Math.floor(random() * 4)] + text;
      const r = parse(text);
      // Line by line: each non-empty line gives records or exactly one rejection.
      let samples = 0;
      let logs = 0;
      let rejections = 0;
      for (const line of text.split('\n')) {
        const l = parse(line);
        const records = l.samples.length + l.logs.length;
        if (line.replace(/\r$/, '') !== '') expect(records > 0 !== (l.rejections.length === 1)).toBe(true);
        samples += l.samples.length;
        logs += l.logs.length;
        rejections += l.rejections.length;
      }
      expect([r.samples.length, r.logs.length, r.rejections.length]).toEqual([samples, logs, rejections]);
      for (const s of r.samples) expect(Number.isFinite(s.value)).toBe(true);
    }
  });

  it('never throws on random binary datagrams', () => {
    const random = rng(99);
    for (let i = 0; i < 2_000; i++) {
      const buf = Buffer.alloc(Math.floor(random() * 200));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(random() * 256);
      expect(() => parse(buf)).not.toThrow();
    }
  });
});
