export * from './cloud-config.js';
export * from './host-key.js';
