/**
 * A problem the user can fix in their workflow (a bad or missing input, an impossible
 * combination). Reported without a stack trace; everything else is a runtime failure.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
}

export function isConfigurationError(error: unknown): error is ConfigurationError {
  return error instanceof ConfigurationError;
}

/** The message of anything thrown, without assuming it is an Error. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A failure with output worth showing under the error (a tool's last lines, a health log). */
export class DiagnosedError extends Error {
  override readonly name: string = 'DiagnosedError';
  constructor(
    message: string,
    readonly diagnostics?: string,
  ) {
    super(message);
  }
}
