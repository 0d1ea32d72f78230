// The runner's file commands: GITHUB_OUTPUT, GITHUB_ENV, GITHUB_STATE use `name=value` lines
// or the multiline form
//   name<<DELIMITER
//   line 1
//   line 2
//   DELIMITER
// exactly as actions/runner's SetEnvFileCommand / SetOutputFileCommand read them: whichever of
// `=` and `<<` comes first on the line decides the form; blank lines are skipped; a missing
// closing delimiter is an error. GITHUB_PATH has one directory per line.

export class FileCommandError extends Error {}

export function parseKeyValueFile(content: string, fileName = 'file'): Array<[string, string]> {
  const lines = content.split(/\r?\n/);
  const out: Array<[string, string]> = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const eq = line.indexOf('=');
    const heredoc = line.indexOf('<<');
    if (eq >= 0 && (heredoc < 0 || eq < heredoc)) {
      const name = line.slice(0, eq);
      if (!name) throw new FileCommandError(`${fileName}: line ${i + 1}: empty name in "${line}"`);
      out.push([name, line.slice(eq + 1)]);
    } else if (heredoc > 0) {
      const name = line.slice(0, heredoc);
      const delimiter = line.slice(heredoc + 2);
      if (!delimiter) throw new FileCommandError(`${fileName}: line ${i + 1}: empty delimiter in "${line}"`);
      const value: string[] = [];
      let closed = false;
      for (i = i + 1; i < lines.length; i++) {
        if (lines[i] === delimiter) {
          closed = true;
          break;
        }
        value.push(lines[i]!);
      }
      if (!closed) throw new FileCommandError(`${fileName}: matching delimiter "${delimiter}" for "${name}" not found`);
      out.push([name, value.join('\n')]);
    } else {
      throw new FileCommandError(`${fileName}: line ${i + 1}: invalid format "${line}"`);
    }
  }
  return out;
}

export function parsePathFile(content: string): string[] {
  return content
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
}

/** Workflow commands (`::name k=v,k2=v2::message`) as the runner escapes them. */
export interface WorkflowCommand {
  command: string;
  properties: Record<string, string>;
  message: string;
}

function unescapeData(s: string): string {
  return s.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
}
function unescapeProperty(s: string): string {
  return s
    .replace(/%0D/gi, '\r')
    .replace(/%0A/gi, '\n')
    .replace(/%3A/gi, ':')
    .replace(/%2C/gi, ',')
    .replace(/%25/g, '%');
}

export function parseWorkflowCommand(line: string): WorkflowCommand | undefined {
  const m = /^\s*::([A-Za-z][\w-]*)(?:\s+([^:]*))?::(.*)$/.exec(line);
  if (!m) return undefined;
  const properties: Record<string, string> = {};
  for (const part of (m[2] ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) properties[part.slice(0, eq).trim()] = unescapeProperty(part.slice(eq + 1));
  }
  return { command: m[1]!.toLowerCase(), properties, message: unescapeData(m[3] ?? '') };
}
