/** Where actions and libraries write progress. The @actions/core implementation is in core-logger.ts. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug(message: string): void;
  /** Runs fn inside a collapsible log group; groups do not nest on the runner, so inner calls just run fn. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Prefixes every line of a logger with a label, e.g. the host a command ran on. */
export function prefixedLogger(inner: Logger, prefix: string): Logger {
  const p = (message: string): string =>
    message
      .split('\n')
      .map((line) => `${prefix} ${line}`)
      .join('\n');
  return {
    info: (m) => inner.info(p(m)),
    warn: (m) => inner.warn(p(m)),
    error: (m) => inner.error(p(m)),
    debug: (m) => inner.debug(p(m)),
    group: (name, fn) => inner.group(`${prefix} ${name}`, fn),
  };
}
