/**
 * Job summaries as Markdown built from data. Every action writes one; cells are escaped
 * so a value with `|` or a newline cannot break the table.
 */
export interface SummaryDocument {
  markdown: string;
}

export type Cell = string | number | boolean | null | undefined;

export function escapeCell(cell: Cell): string {
  if (cell === null || cell === undefined || cell === '') return '—';
  return String(cell).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

export function markdownTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const head = `| ${headers.map(escapeCell).join(' | ')} |`;
  const rule = `| ${headers.map(() => '---').join(' | ')} |`;
  const body = rows.map((row) => `| ${headers.map((_, i) => escapeCell(row[i])).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

export class SummaryBuilder {
  private readonly parts: string[] = [];

  heading(text: string, level: 2 | 3 | 4 = 3): this {
    this.parts.push(`${'#'.repeat(level)} ${text}`);
    return this;
  }

  text(text: string): this {
    this.parts.push(text);
    return this;
  }

  table(headers: readonly string[], rows: readonly (readonly Cell[])[]): this {
    this.parts.push(markdownTable(headers, rows));
    return this;
  }

  details(summary: string, body: string): this {
    this.parts.push(`<details><summary>${summary}</summary>\n\n\`\`\`\n${body}\n\`\`\`\n\n</details>`);
    return this;
  }

  build(): SummaryDocument {
    return { markdown: `${this.parts.join('\n\n')}\n` };
  }
}
