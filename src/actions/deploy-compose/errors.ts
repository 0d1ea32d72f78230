// How a failed step is reported: where, what, and what is serving now.

export class DeployStepError extends Error {
  override readonly name = 'DeployStepError';
  constructor(
    readonly host: string,
    readonly step: string,
    readonly reason: string,
    readonly outcome: string,
    readonly diagnostics?: string,
  ) {
    super(
      `host ${host}, step "${step}": ${reason.replace(/\.$/, '')}. ${outcome}${diagnostics ? `\n${diagnostics}` : ''}`,
    );
  }
}

export function unchanged(current: string | undefined): string {
  return current
    ? `Nothing was changed; release ${current} is still serving.`
    : 'Nothing was changed; no release was serving before.';
}

export function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
