// Regenerates the input/output tables in README.md from the action.yml files, between markers
//   <!-- action-docs:begin NAME -->  …  <!-- action-docs:end NAME -->
// NAME is `deploy` for the root action.yml and the folder name for actions/<name>/action.yml.
//
//   node --import tsx scripts/readme-sync.ts           rewrite README.md
//   node --import tsx scripts/readme-sync.ts --check   exit 1 (and say where) when README is stale
// test/unit/readme-sync.test.ts runs the check in `npm test`.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');

interface ActionYml {
  name?: string;
  description?: string;
  inputs?: Record<
    string,
    { description?: string; required?: boolean; default?: unknown; deprecationMessage?: string } | null
  >;
  outputs?: Record<string, { description?: string } | null>;
  runs?: { using?: string; post?: string };
}

/** The actions documented in the README: name → action.yml path. */
export function actionFiles(root = ROOT): Record<string, string> {
  const out: Record<string, string> = {};
  if (existsSync(join(root, 'action.yml'))) out['deploy'] = join(root, 'action.yml');
  for (const name of readdirSync(join(root, 'actions')).sort()) {
    const file = join(root, 'actions', name, 'action.yml');
    if (existsSync(file)) out[name] = file;
  }
  return out;
}

function cell(text: string): string {
  return text
    .trim()
    .replace(/\|/g, '\\|')
    .split(/\n\s*\n/)
    .map((para) => para.replace(/\s*\n\s*/g, ' '))
    .join('<br><br>');
}

function code(text: string): string {
  const t = text.replace(/\n/g, '\\n');
  return t.includes('`') ? `\`\` ${t} \`\`` : `\`${t}\``;
}

/** The markdown for one action: its description, inputs table and outputs table. */
export function renderActionDocs(yml: string): string {
  const doc = parseYaml(yml) as ActionYml;
  const lines: string[] = [];
  if (doc.description) lines.push(`_${cell(doc.description)}_`, '');
  const inputs = Object.entries(doc.inputs ?? {});
  if (inputs.length) {
    lines.push('| Input | Required | Default | Description |', '| --- | --- | --- | --- |');
    for (const [name, def] of inputs) {
      const dflt = def?.default === undefined || def.default === '' ? '' : code(String(def.default));
      const deprecated = def?.deprecationMessage ? ` **Deprecated:** ${cell(def.deprecationMessage)}` : '';
      lines.push(
        `| \`${name}\` | ${def?.required ? 'yes' : 'no'} | ${dflt} | ${cell(def?.description ?? '')}${deprecated} |`,
      );
    }
  } else lines.push('No inputs.');
  lines.push('');
  const outputs = Object.entries(doc.outputs ?? {});
  if (outputs.length) {
    lines.push('| Output | Description |', '| --- | --- |');
    for (const [name, def] of outputs) lines.push(`| \`${name}\` | ${cell(def?.description ?? '')} |`);
  } else lines.push('No outputs.');
  return lines.join('\n');
}

const marker = (kind: 'begin' | 'end', name: string): string => `<!-- action-docs:${kind} ${name} -->`;

export interface SyncResult {
  text: string;
  /** Actions whose section changed. */
  changed: string[];
  /** Actions with no markers in the README. */
  missing: string[];
  /** Marker names that match no action. */
  unknown: string[];
}

/** Replaces the content between every pair of markers with the generated docs. */
export function syncReadme(readme: string, actions: Record<string, string>): SyncResult {
  let text = readme;
  const changed: string[] = [];
  const missing: string[] = [];
  for (const [name, yml] of Object.entries(actions)) {
    const begin = marker('begin', name);
    const end = marker('end', name);
    const i = text.indexOf(begin);
    const j = text.indexOf(end);
    if (i < 0 || j < i) {
      missing.push(name);
      continue;
    }
    const generated = `${begin}\n${renderActionDocs(yml)}\n${end}`;
    const current = text.slice(i, j + end.length);
    if (current !== generated) {
      changed.push(name);
      text = text.slice(0, i) + generated + text.slice(j + end.length);
    }
  }
  const unknown = [...text.matchAll(/<!-- action-docs:begin (\S+) -->/g)]
    .map((m) => m[1]!)
    .filter((n) => !(n in actions));
  return { text, changed, missing, unknown };
}

function main(): void {
  const check = process.argv.includes('--check');
  const readmePath = join(ROOT, 'README.md');
  const actions = Object.fromEntries(Object.entries(actionFiles()).map(([n, f]) => [n, readFileSync(f, 'utf8')]));
  const result = syncReadme(readFileSync(readmePath, 'utf8'), actions);
  const problems = [
    ...result.missing.map((n) => `README.md has no ${marker('begin', n)} … ${marker('end', n)} section for ${n}`),
    ...result.unknown.map((n) => `README.md documents "${n}", which has no action.yml`),
  ];
  if (check) {
    for (const n of result.changed) problems.push(`README.md's tables for ${n} differ from its action.yml`);
    if (problems.length) {
      console.error(`${problems.join('\n')}\nRun: node --import tsx scripts/readme-sync.ts`);
      process.exit(1);
    }
    console.log(`README.md is in sync with ${Object.keys(actions).length} action.yml files`);
    return;
  }
  if (result.changed.length) writeFileSync(readmePath, result.text);
  console.log(result.changed.length ? `updated: ${result.changed.join(', ')}` : 'README.md already in sync');
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
