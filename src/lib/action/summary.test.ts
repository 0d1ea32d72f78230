import { describe, expect, it } from 'vitest';

import { SummaryBuilder, markdownTable } from './summary.js';

describe('summary', () => {
  it('builds a table that a value cannot break', () => {
    expect(
      markdownTable(
        ['host', 'result'],
        [
          ['web-1', 'ok | fine\nreally'],
          ['web-2', null],
        ],
      ),
    ).toBe(['| host | result |', '| --- | --- |', '| web-1 | ok \\| fine<br>really |', '| web-2 | — |'].join('\n'));
  });

  it('assembles sections in order', () => {
    const doc = new SummaryBuilder()
      .heading('Deploy')
      .text('2 hosts')
      .table(['a'], [[1]])
      .build();
    expect(doc.markdown).toBe('### Deploy\n\n2 hosts\n\n| a |\n| --- |\n| 1 |\n');
  });
});
