import * as core from '@actions/core';

import { errorMessage, isConfigurationError } from './errors.js';

/**
 * The one place an action's failure is reported. User errors (ConfigurationError) are
 * shown without a stack; other failures show their stack only with step debug logging.
 */
export async function runAction(name: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    reportFailure(name, error);
  }
}

export function reportFailure(name: string, error: unknown): void {
  if (!isConfigurationError(error) && error instanceof Error && error.stack) {
    core.debug(error.stack);
  }
  core.setFailed(`${name} failed: ${errorMessage(error)}`);
}
