// Validates workflows with GitHub's own language service (@actions/languageservice: the engine of
// the VS Code extension), with OUR action.yml files as the actions' metadata: an unknown input,
// a missing required input or a misspelt action path is a diagnostic. Third-party actions get
// the inputs their local equivalents support (third-party.ts), so a workflow cannot validate
// with an input the local runner would ignore.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionsMetadataProvider } from '@actions/languageservice';
import { validate } from '@actions/languageservice';
import { clearCacheEntry } from '@actions/languageservice/utils/workflow-cache';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { parse as parseYaml } from 'yaml';
import { REPO_ROOT } from './runner.js';
import { THIRD_PARTY, thirdPartyKey } from './third-party.js';

type ActionMetadata = NonNullable<Awaited<ReturnType<ActionsMetadataProvider['fetchActionMetadata']>>>;

export interface WorkflowDiagnostic {
  file: string;
  line: number;
  column: number;
  severity: number | undefined;
  message: string;
}

function readActionYml(dir: string): ActionMetadata | undefined {
  const file = ['action.yml', 'action.yaml'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) return undefined;
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    name: string;
    description: string;
    inputs?: Record<
      string,
      { description?: string; required?: boolean; default?: unknown; deprecationMessage?: string }
    >;
    outputs?: Record<string, { description?: string }>;
  };
  const inputs: NonNullable<ActionMetadata['inputs']> = {};
  for (const [k, v] of Object.entries(doc.inputs ?? {})) {
    inputs[k] = {
      description: v?.description ?? '',
      required: v?.required === true,
      ...(v?.default !== undefined ? { default: String(v.default) } : {}),
      ...(v?.deprecationMessage ? { deprecationMessage: v.deprecationMessage } : {}),
    };
  }
  const outputs: NonNullable<ActionMetadata['outputs']> = {};
  for (const [k, v] of Object.entries(doc.outputs ?? {})) outputs[k] = { description: v?.description ?? '' };
  return { name: doc.name, description: doc.description, inputs, outputs };
}

export function metadataProvider(actionRepo = REPO_ROOT): ActionsMetadataProvider {
  return {
    async fetchActionMetadata(ref) {
      await Promise.resolve();
      if (ref.name.toLowerCase() === 'droplet-deploy')
        return readActionYml(ref.path ? join(actionRepo, ref.path) : actionRepo);
      const eq = THIRD_PARTY[thirdPartyKey(`${ref.owner}/${ref.name}${ref.path ? `/${ref.path}` : ''}`)];
      if (!eq) return undefined;
      const inputs: NonNullable<ActionMetadata['inputs']> = {};
      for (const i of eq.inputs) inputs[i] = { description: i, required: (eq.required ?? []).includes(i) };
      return { name: `${ref.owner}/${ref.name}`, description: eq.real, inputs };
    },
  };
}

/** All diagnostics the language service reports for one workflow file. */
export async function validateWorkflow(
  file: string,
  content = readFileSync(file, 'utf8'),
  actionRepo = REPO_ROOT,
): Promise<WorkflowDiagnostic[]> {
  const uri = `file://${file}`;
  // the language service caches parses by URI: without this, new content under a URI seen
  // before is validated as the old content
  clearCacheEntry(uri);
  const doc = TextDocument.create(uri, 'yaml', 1, content);
  const diagnostics = await validate(doc, { actionsMetadataProvider: metadataProvider(actionRepo) });
  return diagnostics.map((d) => ({
    file,
    line: d.range.start.line + 1,
    column: d.range.start.character + 1,
    severity: d.severity,
    message: typeof d.message === 'string' ? d.message : d.message.value,
  }));
}

export function formatDiagnostics(ds: WorkflowDiagnostic[]): string {
  return ds.map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`).join('\n');
}
