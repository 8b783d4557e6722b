import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { listSettings } from './load-config.js';

/** docs/configuration.md, generated from the schema (`npm run docs:config`). */
export function renderConfigDocs(): string {
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/config-schema.ts by `npm run docs:config`; a test fails when this file is stale. -->',
    '',
    'Every process reads one configuration, validated once at start and then frozen. Sources, later ones winning:',
    '',
    '1. a JSON file named by `SSF_CONFIG_FILE`, nested like the paths below (`{"clickhouse": {"url": "..."}}`);',
    '2. environment variables, one per setting (`SSF_` + the path in SCREAMING_SNAKE_CASE);',
    '3. command-line flags of the `ssf` command, where it has them.',
    '',
    'An unknown key or `SSF_*` variable stops start-up with a hint naming the closest known setting',
    '(renamed settings name their replacement). Lists are comma-separated in the environment',
    '(`a,b`); maps are `key=value,key2=value2`. The emitter library reads only `SSF_ADDRESS` and',
    '`SSF_SERVICE`; the `ssf` client commands also read `SSF_TOKEN`, `SSF_TRACE_ID` and `SSF_PARENT_ID`.',
    'The processes ignore these, and every other `SSF_TRACE_*` and `SSF_PARENT_*` variable.',
    '',
  ];
  let section = '';
  const settings = listSettings();
  settings.forEach((s, i) => {
    const [name] = s.path.split('.');
    if (name !== section) {
      section = name ?? '';
      lines.push(`## ${section}`, '', '| Setting | Environment | Default | Description |', '| --- | --- | --- | --- |');
    }
    const dflt =
      s.kind === 'list'
        ? (s.default as string[]).join(',')
        : s.kind === 'map'
          ? Object.entries(s.default as Record<string, string>)
              .map(([k, v]) => `${k}=${v}`)
              .join(',')
          : String(s.default);
    const choices = s.choices ? ` One of: ${s.choices.map((c) => `\`${c === '' ? '""' : c}\``).join(', ')}.` : '';
    const range = s.range ? ` Range: ${s.range}.` : '';
    lines.push(`| \`${s.path}\` | \`${s.env}\` | ${dflt === '' ? '(empty)' : `\`${dflt}\``} | ${s.description.replace(/\|/g, '\\|')}${choices}${range} |`);
    const next = settings[i + 1];
    if (!next?.path.startsWith(`${section}.`)) lines.push('');
  });
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const target = new URL('../../docs/configuration.md', import.meta.url);
  writeFileSync(target, renderConfigDocs());
  console.log(`wrote ${target.pathname}`);
}
