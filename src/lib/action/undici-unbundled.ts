// Bundled in place of the `undici` package (tsconfig.json "paths"; ncc resolves through it).
// @actions/core v3 imports @actions/http-client, which imports undici at load time for one
// thing: ProxyAgent, built only by HttpClient.getAgentDispatcher() — the dispatcher of
// @actions/github's Octokit, which no action of ours creates. Webpack already finds that
// import unused in our bundles (the built code names a ProxyAgent it never defines), yet it
// kept undici's CommonJS modules, which it cannot prove free of side effects, and Node ran
// them at start-up. With this module instead, every bundle is ~0.9 MB smaller and starts
// with less memory and sooner (npm run bench:startup -- 20 --against <dist of the old build>).
// Should a future code path build that dispatcher, this class is bundled and fails loudly.
export class ProxyAgent {
  constructor() {
    throw new Error(
      'undici is not bundled with droplet-deploy (src/lib/action/undici-unbundled.ts): an HTTP proxy dispatcher was requested',
    );
  }
}
