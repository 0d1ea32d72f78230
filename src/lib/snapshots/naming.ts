import { ConfigurationError } from '../action/errors.js';

// Snapshot names from a template. Placeholders: {app}, {droplet}, {droplet-id}, {timestamp}
// (UTC, e.g. 20261122T030000Z). {timestamp} is required, and everything before it is the
// name PREFIX retention matches (together with the tag), so the template decides which
// snapshots are "ours".

export const DEFAULT_SNAPSHOT_TEMPLATE = '{app}-{droplet}-{timestamp}';
const PLACEHOLDERS = ['app', 'droplet', 'droplet-id', 'timestamp'];

export interface NameContext {
  app: string;
  droplet: string;
  dropletId: number;
  at: Date;
}

export function snapshotStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export function validateTemplate(template: string, inputName = 'snapshot-name'): void {
  for (const m of template.matchAll(/\{([^}]*)\}/g)) {
    if (!PLACEHOLDERS.includes(m[1] as string)) {
      throw new ConfigurationError(
        `input "${inputName}" has ${JSON.stringify(template)}: unknown placeholder {${m[1]}} (use ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})`,
      );
    }
  }
  const t = template.indexOf('{timestamp}');
  if (t < 0)
    throw new ConfigurationError(`input "${inputName}" has ${JSON.stringify(template)}: it must contain {timestamp}`);
  if (t === 0) {
    throw new ConfigurationError(
      `input "${inputName}" has ${JSON.stringify(template)}: it must start with fixed text or {app}/{droplet} before {timestamp}, so retention can recognise its own snapshots`,
    );
  }
  if (!/^[A-Za-z0-9{}._-]+$/.test(template)) {
    throw new ConfigurationError(
      `input "${inputName}" has ${JSON.stringify(template)}: only letters, digits, . _ - and placeholders are allowed`,
    );
  }
}

function fill(template: string, ctx: NameContext): string {
  return template
    .replaceAll('{app}', ctx.app)
    .replaceAll('{droplet}', ctx.droplet)
    .replaceAll('{droplet-id}', String(ctx.dropletId))
    .replaceAll('{timestamp}', snapshotStamp(ctx.at));
}

export function snapshotName(template: string, ctx: NameContext): string {
  return fill(template, ctx);
}

/** The fixed part of this droplet's snapshot names (everything before {timestamp}). */
export function snapshotPrefix(template: string, ctx: Omit<NameContext, 'at'>): string {
  return fill(template.slice(0, template.indexOf('{timestamp}')), { ...ctx, at: new Date(0) });
}
