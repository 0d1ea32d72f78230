import * as core from '@actions/core';

import type { Logger } from './logger.js';
import type { SummaryDocument } from './summary.js';

/**
 * Everything an action needs from the runner, as one injectable object. Only this file
 * and each action's index.ts import @actions/core; run.ts modules receive an ActionIo.
 */
export interface ActionIo {
  getInput(name: string): string;
  setOutput(name: string, value: string): void;
  setSecret(value: string): void;
  saveState(name: string, value: string): void;
  getState(name: string): string;
  writeSummary(doc: SummaryDocument): Promise<void>;
  logger: Logger;
}

export const coreLogger: Logger = {
  info: (m) => core.info(m),
  warn: (m) => core.warning(m),
  error: (m) => core.error(m),
  debug: (m) => core.debug(m),
  async group(name, fn) {
    if (groupDepth > 0) return fn();
    groupDepth += 1;
    try {
      return await core.group(name, fn);
    } finally {
      groupDepth -= 1;
    }
  },
};
let groupDepth = 0;

export function coreIo(): ActionIo {
  return {
    getInput: (name) => core.getInput(name),
    setOutput: (name, value) => core.setOutput(name, value),
    setSecret: (value) => core.setSecret(value),
    saveState: (name, value) => core.saveState(name, value),
    getState: (name) => core.getState(name),
    async writeSummary(doc) {
      if (!process.env['GITHUB_STEP_SUMMARY']) return;
      await core.summary.addRaw(doc.markdown, true).write();
    },
    logger: coreLogger,
  };
}
