export const id = 173;
export const ids = [173];
export const modules = {

/***/ 55173:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  createClient: () => (/* reexport */ createClient),
  normalizeApiEndpoint: () => (/* reexport */ normalizeApiEndpoint)
});

// UNUSED EXPORTS: ActionFailedError, ActionTimeoutError, DEFAULT_API_ENDPOINT, DEFAULT_RETRY_POLICY, DigitalOceanApiError, DigitalOceanClient, isNotFound, privateIpv4, publicIpv4, waitForAction

// EXTERNAL MODULE: ./node_modules/dots-wrapper/dist/index.js
var dist = __webpack_require__(82151);
// EXTERNAL MODULE: ./src/lib/action/secrets.ts
var secrets = __webpack_require__(9887);
// EXTERNAL MODULE: ./src/lib/retry.ts
var retry = __webpack_require__(61737);
;// CONCATENATED MODULE: ./src/lib/digitalocean/errors.ts
/**
 * A request DigitalOcean answered with an error (after retries, if it was retryable), or
 * one that never got an answer (status 0). Carries what a user needs to act on it or to
 * quote to DigitalOcean support: HTTP status, DigitalOcean's error id and message, and the
 * request id. Never the token: nothing from the request's headers is kept.
 */
class DigitalOceanApiError extends Error {
    method;
    path;
    status;
    errorId;
    apiMessage;
    requestId;
    attempts;
    name = 'DigitalOceanApiError';
    constructor(method, 
    /** Path below the API base, e.g. /droplets/123 */
    path, 
    /** HTTP status; 0 when there was no response (network error, timeout). */
    status, 
    /** DigitalOcean's error id, e.g. "not_found", "too_many_requests". */
    errorId, 
    /** DigitalOcean's message (or the network error). */
    apiMessage, requestId, 
    /** How many attempts were made before giving up. */
    attempts) {
        const what = status ? `HTTP ${status}${errorId ? ` ${errorId}` : ''}` : 'no response';
        const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
        const rid = requestId ? ` (request_id ${requestId})` : '';
        super(`DigitalOcean API ${method} ${path} failed${tries}: ${what}: ${apiMessage}${rid}${hint(status)}`);
        this.method = method;
        this.path = path;
        this.status = status;
        this.errorId = errorId;
        this.apiMessage = apiMessage;
        this.requestId = requestId;
        this.attempts = attempts;
    }
    get isNotFound() {
        return this.status === 404;
    }
}
function hint(status) {
    if (status === 401)
        return '. Check the API token (input "token"): it is missing, mistyped, revoked or expired';
    if (status === 403)
        return '. The API token lacks the scope for this call: give it read and write access';
    return '';
}
function isNotFound(error) {
    return error instanceof DigitalOceanApiError && error.status === 404;
}
/** A DigitalOcean action (create, snapshot, power_off…) that ended `errored`. */
class ActionFailedError extends Error {
    actionId;
    actionType;
    resource;
    name = 'ActionFailedError';
    constructor(actionId, actionType, resource) {
        super(`DigitalOcean action ${actionId} (${actionType} on ${resource}) ended with status "errored"`);
        this.actionId = actionId;
        this.actionType = actionType;
        this.resource = resource;
    }
}
/** A DigitalOcean action still not completed when the wait ran out. */
class ActionTimeoutError extends Error {
    actionId;
    actionType;
    resource;
    lastStatus;
    waitedMs;
    name = 'ActionTimeoutError';
    constructor(actionId, actionType, resource, lastStatus, waitedMs) {
        super(`DigitalOcean action ${actionId} (${actionType} on ${resource}) was still "${lastStatus}" after ${Math.round(waitedMs / 1000)}s`);
        this.actionId = actionId;
        this.actionType = actionType;
        this.resource = resource;
        this.lastStatus = lastStatus;
        this.waitedMs = waitedMs;
    }
}

// EXTERNAL MODULE: ./src/lib/action/parsers.ts
var parsers = __webpack_require__(66754);
;// CONCATENATED MODULE: ./src/lib/digitalocean/http.ts



const DEFAULT_RETRY_POLICY = {
    attempts: 8,
    maxElapsedMs: 5 * 60_000,
    baseDelayMs: 1000,
    maxDelayMs: 30_000,
};
/** The smallest wait honoured even when the API says `retry-after: 0`, so a storm is not hammered. */
const MIN_REQUESTED_DELAY_MS = 250;
/**
 * POSTs that are safe to send twice (adding tags, attaching droplets to something that
 * already has them). Other POSTs create billable things (droplets, snapshots, reserved IPs)
 * and are not retried on 5xx or a lost answer, because the first attempt may have
 * succeeded; their callers reconcile instead (provision-droplet re-lists by tag).
 * A 429 is always retried: DigitalOcean rejected the request without doing anything.
 */
const IDEMPOTENT_POSTS = [
    /^\/tags$/,
    /^\/tags\/[^/]+\/resources$/,
    /^\/firewalls\/[^/]+\/(tags|droplets|rules)$/,
    /^\/load_balancers\/[^/]+\/droplets$/,
];
function isIdempotent(method, path) {
    const m = method.toUpperCase();
    if (m === 'GET' || m === 'HEAD' || m === 'PUT' || m === 'DELETE' || m === 'OPTIONS')
        return true;
    return m === 'POST' && IDEMPOTENT_POSTS.some((re) => re.test(path));
}
/** A response or a transport failure, as the retry loop sees it. */
class AttemptFailure extends Error {
    status;
    headers;
    body;
    networkCode;
    constructor(status, headers, body, networkCode, message) {
        super(message);
        this.status = status;
        this.headers = headers;
        this.body = body;
        this.networkCode = networkCode;
    }
}
function headerMap(headers) {
    const out = {};
    if (!headers)
        return out;
    const source = typeof headers.toJSON === 'function'
        ? headers.toJSON()
        : headers;
    for (const [k, v] of Object.entries(source)) {
        if (v === undefined || v === null)
            continue;
        out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
    }
    return out;
}
function parseBody(data) {
    if (typeof data === 'string') {
        try {
            return JSON.parse(data);
        }
        catch {
            return data;
        }
    }
    if (Buffer.isBuffer(data))
        return parseBody(data.toString('utf8'));
    return data;
}
/**
 * How long DigitalOcean asked us to wait: `retry-after` (seconds or an HTTP date), else
 * on a 429 `ratelimit-reset` (epoch seconds when the window resets). Undefined when neither.
 */
function requestedDelayMs(status, headers, now) {
    const retryAfter = headers['retry-after'];
    if (retryAfter !== undefined && retryAfter.trim() !== '') {
        const v = retryAfter.trim();
        if (/^\d+(\.\d+)?$/.test(v))
            return Math.max(MIN_REQUESTED_DELAY_MS, Math.round(Number(v) * 1000));
        const date = Date.parse(v);
        if (!Number.isNaN(date))
            return Math.max(MIN_REQUESTED_DELAY_MS, date - now);
    }
    const reset = headers['ratelimit-reset'];
    if (status === 429 && reset !== undefined && /^\d+$/.test(reset.trim())) {
        return Math.max(MIN_REQUESTED_DELAY_MS, Number(reset.trim()) * 1000 - now);
    }
    return undefined;
}
function isRetryable(failure, method, path) {
    if (failure.status === 429)
        return true;
    if (failure.status >= 500)
        return isIdempotent(method, path);
    if (failure.status === 0) {
        // Connection refused: nothing was sent, any method may go again.
        if (failure.networkCode === 'ECONNREFUSED')
            return true;
        return isIdempotent(method, path);
    }
    return false;
}
/** The path below the API base, for messages and the retry rules (`/droplets/1`). */
function pathBelowBase(endpoint, url) {
    const u = url ?? '';
    const base = new URL(endpoint);
    let path;
    try {
        const full = new URL(u, `${endpoint}/`);
        path = full.pathname;
    }
    catch {
        path = u;
    }
    if (path.startsWith(base.pathname))
        path = path.slice(base.pathname.length);
    return path.startsWith('/') ? path : `/${path}`;
}
function toApiError(failure, method, path, attempts) {
    const body = failure.body;
    const errorId = body && typeof body === 'object' && typeof body.id === 'string' ? body.id : undefined;
    let message;
    if (body && typeof body === 'object' && typeof body.message === 'string')
        message = body.message;
    else if (failure.status === 0)
        message = failure.message;
    else if (typeof failure.body === 'string' && failure.body.trim())
        message = failure.body.trim().slice(0, 300);
    else
        message = 'no error message in the response';
    const requestId = (body && typeof body === 'object' && typeof body.request_id === 'string' ? body.request_id : undefined) ??
        failure.headers['x-request-id'];
    return new DigitalOceanApiError(method, path, failure.status, errorId, message, requestId, attempts);
}
/**
 * The axios instance every DigitalOcean call goes through (dots-wrapper's and our raw
 * calls alike): base URL, bearer token, timeout, and an adapter that retries 429/5xx with
 * backoff honouring `retry-after` / `ratelimit-reset`, bounded in attempts and total time,
 * and turns every failure into a DigitalOceanApiError (which never holds the token).
 */
function createHttpClient(axios, options) {
    const policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    const now = options.now ?? Date.now;
    const sleep = options.sleep ?? retry/* realSleep */.uk;
    const transport = options.transport ?? axios.getAdapter(['http', 'fetch']);
    const adapter = async (config) => {
        const method = (config.method ?? 'get').toUpperCase();
        const path = pathBelowBase(options.endpoint, config.url);
        let attempts = 0;
        try {
            return await (0,retry/* retry */.L5)(async (attempt) => {
                attempts = attempt;
                let response;
                try {
                    response = await transport({ ...config, validateStatus: () => true });
                }
                catch (error) {
                    const e = error;
                    throw new AttemptFailure(0, {}, undefined, e.code, `${e.code ?? 'network error'}: ${e.message ?? ''}`.trim());
                }
                if (response.status >= 200 && response.status < 300)
                    return response;
                throw new AttemptFailure(response.status, headerMap(response.headers), parseBody(response.data), undefined, `HTTP ${response.status}`);
            }, {
                attempts: policy.attempts,
                baseDelayMs: policy.baseDelayMs,
                maxDelayMs: policy.maxDelayMs,
                maxElapsedMs: policy.maxElapsedMs,
                retryable: (e) => e instanceof AttemptFailure && isRetryable(e, method, path),
                requestedDelayMs: (e) => e instanceof AttemptFailure ? requestedDelayMs(e.status, e.headers, now()) : undefined,
                onRetry: ({ attempt, error, delayMs }) => {
                    const f = error;
                    const what = f.status ? `HTTP ${f.status}` : f.message;
                    options.logger?.info(`DigitalOcean API ${method} ${path}: ${what}; retrying in ${(0,parsers/* formatDuration */.a3)(delayMs)} (attempt ${attempt + 1} of ${policy.attempts})`);
                },
                sleep,
                now,
                ...(options.random ? { random: options.random } : {}),
            });
        }
        catch (error) {
            if (error instanceof AttemptFailure)
                throw toApiError(error, method, path, attempts);
            throw error;
        }
    };
    return axios.create({
        baseURL: options.endpoint,
        timeout: options.timeoutMs ?? 30_000,
        headers: {
            Authorization: `Bearer ${options.token}`,
            'Content-Type': 'application/json',
            'User-Agent': 'droplet-deploy',
        },
        adapter,
    });
}

;// CONCATENATED MODULE: ./src/lib/digitalocean/pagination.ts
/** At most this many pages are followed (200 items each: 100 000 items), so a looping `next` cannot hang us. */
const MAX_PAGES = 500;
/**
 * Turns `links.pages.next` into a request on our own client: the path and query are kept,
 * scheme/host/port come from the configured endpoint, so a `next` URL can never send the
 * token to another host.
 */
function nextPageUrl(endpoint, next) {
    const base = new URL(endpoint);
    const target = new URL(next, `${endpoint}/`);
    let path = target.pathname;
    if (path.startsWith(base.pathname))
        path = path.slice(base.pathname.length);
    return `${path.startsWith('/') ? path : `/${path}`}${target.search}`;
}
/**
 * Every item of a paginated list: takes the first page (from dots-wrapper or a raw call),
 * then follows `links.pages.next` through the same axios instance until there is none.
 */
async function collectPages(http, endpoint, key, firstPage) {
    const items = [];
    let page = (await firstPage()).data;
    const seen = new Set();
    for (let n = 1;; n += 1) {
        items.push(...(page[key] ?? []));
        const next = page.links?.pages?.next;
        if (!next)
            return items;
        const url = nextPageUrl(endpoint, next);
        if (seen.has(url))
            throw new Error(`DigitalOcean API pagination of ${key} loops at ${url}`);
        if (n >= MAX_PAGES)
            throw new Error(`DigitalOcean API pagination of ${key}: more than ${MAX_PAGES} pages`);
        seen.add(url);
        page = (await http.get(url)).data;
    }
}

;// CONCATENATED MODULE: ./src/lib/digitalocean/wait.ts

/**
 * Polls GET /actions/{id} until the action is `completed`. `errored` throws
 * ActionFailedError; still in progress at the deadline throws ActionTimeoutError.
 */
async function waitForAction(getAction, id, options) {
    const started = options.now();
    const maxInterval = options.maxIntervalMs ?? 10_000;
    let interval = options.intervalMs ?? 2000;
    for (;;) {
        const action = await getAction(id);
        const label = options.label ?? `${action.resource_type ?? 'resource'} ${action.resource_id ?? '?'}`;
        if (action.status === 'completed')
            return action;
        if (action.status === 'errored')
            throw new ActionFailedError(id, action.type, label);
        const waited = options.now() - started;
        if (waited >= options.timeoutMs)
            throw new ActionTimeoutError(id, action.type, label, action.status, waited);
        options.onProgress?.(action, waited);
        await options.sleep(Math.min(interval, Math.max(1, options.timeoutMs - waited)));
        interval = Math.min(maxInterval, Math.round(interval * 1.5));
    }
}

;// CONCATENATED MODULE: ./src/lib/digitalocean/client.ts







const PER_PAGE = 200;
async function data(request) {
    return (await request).data;
}
/**
 * The one DigitalOcean client every action uses. dots-wrapper where it has the endpoint,
 * raw calls through the very same axios instance (`http`) where it does not (reserved
 * IPs, droplets by name). Every call is retried on 429/5xx and fails as DigitalOceanApiError.
 */
class DigitalOceanClient {
    http;
    dots;
    endpoint;
    sleep;
    now;
    logger;
    constructor(options) {
        if (!options.token)
            throw new Error('DigitalOcean client needs a token');
        if (options.setSecret)
            (0,secrets/* maskSecret */.$l)(options.setSecret, options.token);
        this.endpoint = options.endpoint;
        this.sleep = options.sleep ?? retry/* realSleep */.uk;
        this.now = options.now ?? Date.now;
        this.logger = options.logger;
        let http;
        const make = dist.modules.common.createApiClient({
            modules: dist.modules,
            createContext: ({ axios }) => {
                http = createHttpClient(axios, {
                    endpoint: options.endpoint,
                    token: options.token,
                    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
                    ...(options.retry ? { retry: options.retry } : {}),
                    ...(options.logger ? { logger: options.logger } : {}),
                    ...(options.transport ? { transport: options.transport } : {}),
                    sleep: this.sleep,
                    now: this.now,
                    ...(options.random ? { random: options.random } : {}),
                });
                return Object.freeze({ endpoint: options.endpoint, httpClient: http });
            },
        });
        this.dots = make({ token: options.token, endpoint: options.endpoint });
        if (!http)
            throw new Error('dots-wrapper did not create its context');
        this.http = http;
    }
    // ---- droplets -------------------------------------------------------------------------
    /** All droplets, or those carrying `tag`, following every page. */
    listDroplets(filter = {}) {
        return collectPages(this.http, this.endpoint, 'droplets', () => this.dots.droplet.listDroplets({ per_page: PER_PAGE, page: 1, ...(filter.tag ? { tag_name: filter.tag } : {}) }));
    }
    listDropletsByTag(tag) {
        return this.listDroplets({ tag });
    }
    async getDroplet(id) {
        return (await data(this.dots.droplet.getDroplet({ droplet_id: id }))).droplet;
    }
    /** Droplets by id, in the order given (one request each). */
    async getDroplets(ids) {
        const out = [];
        for (const id of ids)
            out.push(await this.getDroplet(id));
        return out;
    }
    /**
     * Creates one droplet (`name`) or several (`names`) in one request. Not retried on 5xx
     * (it may have created them): callers re-list by tag before trying again.
     */
    async createDroplets(request) {
        if ((request.name === undefined) === (request.names === undefined)) {
            throw new Error('createDroplets needs exactly one of name and names');
        }
        const body = await data(this.http.post('/droplets', request));
        const droplets = body.droplets ?? (body.droplet ? [body.droplet] : []);
        return { droplets, actionIds: (body.links?.actions ?? []).map((a) => a.id) };
    }
    /** Deletes a droplet; an already-deleted one (404) counts as deleted. */
    async deleteDroplet(id) {
        try {
            await this.dots.droplet.deleteDroplet({ droplet_id: id });
        }
        catch (error) {
            if (!isNotFound(error))
                throw error;
        }
    }
    async dropletAction(id, type, params = {}) {
        return (await data(this.http.post(`/droplets/${id}/actions`, { type, ...params }))).action;
    }
    snapshotDroplet(id, name) {
        return this.dropletAction(id, 'snapshot', { name });
    }
    powerOffDroplet(id) {
        return this.dropletAction(id, 'power_off');
    }
    powerOnDroplet(id) {
        return this.dropletAction(id, 'power_on');
    }
    shutdownDroplet(id) {
        return this.dropletAction(id, 'shutdown');
    }
    // ---- actions --------------------------------------------------------------------------
    async getAction(id) {
        return (await data(this.dots.action.getAction({ action_id: id }))).action;
    }
    /** Polls an action until it completes; throws ActionFailedError / ActionTimeoutError. */
    waitForAction(id, options) {
        return waitForAction((actionId) => this.getAction(actionId), id, {
            ...options,
            sleep: this.sleep,
            now: this.now,
            ...(options.onProgress || !this.logger
                ? {}
                : { onProgress: (a, waitedMs) => this.logger?.info(progressLine(a, waitedMs)) }),
        });
    }
    // ---- snapshots ------------------------------------------------------------------------
    listSnapshots(resourceType) {
        return collectPages(this.http, this.endpoint, 'snapshots', () => this.dots.snapshot.listSnapshots({
            per_page: PER_PAGE,
            page: 1,
            ...(resourceType ? { resource_type: resourceType } : {}),
        }));
    }
    /** The snapshots of one droplet (GET /droplets/{id}/snapshots). */
    listDropletSnapshots(dropletId) {
        return collectPages(this.http, this.endpoint, 'snapshots', () => this.http.get(`/droplets/${dropletId}/snapshots`, { params: { per_page: PER_PAGE, page: 1 } }));
    }
    /** Deletes a snapshot; an already-deleted one (404) counts as deleted. */
    async deleteSnapshot(id) {
        try {
            await this.dots.snapshot.deleteSnapshot({ snapshot_id: String(id) });
        }
        catch (error) {
            if (!isNotFound(error))
                throw error;
        }
    }
    // ---- tags -----------------------------------------------------------------------------
    /** Creates a tag (an existing one is fine: DigitalOcean answers with the tag). */
    async createTag(name) {
        await this.http.post('/tags', { name });
    }
    async tagDroplets(tag, dropletIds) {
        if (dropletIds.length === 0)
            return;
        await this.http.post(`/tags/${encodeURIComponent(tag)}/resources`, {
            resources: dropletIds.map((id) => ({ resource_id: String(id), resource_type: 'droplet' })),
        });
    }
    async untagDroplets(tag, dropletIds) {
        if (dropletIds.length === 0)
            return;
        await this.http.delete(`/tags/${encodeURIComponent(tag)}/resources`, {
            data: { resources: dropletIds.map((id) => ({ resource_id: String(id), resource_type: 'droplet' })) },
        });
    }
    /** Tags any taggable resources (droplet, image — droplet snapshots are images —, volume, volume_snapshot, database). */
    async tagResources(tag, resources) {
        if (resources.length === 0)
            return;
        await this.http.post(`/tags/${encodeURIComponent(tag)}/resources`, { resources });
    }
    // ---- ssh keys -------------------------------------------------------------------------
    listSshKeys() {
        return collectPages(this.http, this.endpoint, 'ssh_keys', () => this.dots.sshKey.listSshKeys({ per_page: PER_PAGE, page: 1 }));
    }
    /** One account key by numeric id or MD5 fingerprint. */
    async getSshKey(idOrFingerprint) {
        return (await data(this.http.get(`/account/keys/${encodeURIComponent(String(idOrFingerprint))}`))).ssh_key;
    }
    async createSshKey(name, publicKey) {
        return (await data(this.http.post('/account/keys', { name, public_key: publicKey }))).ssh_key;
    }
    // ---- sizes ----------------------------------------------------------------------------
    listSizes() {
        return collectPages(this.http, this.endpoint, 'sizes', () => this.dots.size.listSizes({ per_page: PER_PAGE, page: 1 }));
    }
    // ---- firewalls ------------------------------------------------------------------------
    listFirewalls() {
        return collectPages(this.http, this.endpoint, 'firewalls', () => this.dots.firewall.listFirewalls({ per_page: PER_PAGE, page: 1 }));
    }
    async getFirewall(id) {
        return (await data(this.dots.firewall.getFirewall({ firewall_id: id }))).firewall;
    }
    async createFirewall(request) {
        return (await data(this.http.post('/firewalls', request))).firewall;
    }
    /** Replaces a firewall's rules and targets (PUT /firewalls/{id}). */
    async updateFirewall(id, request) {
        return (await data(this.http.put(`/firewalls/${id}`, request))).firewall;
    }
    async addTagsToFirewall(id, tags) {
        await this.http.post(`/firewalls/${id}/tags`, { tags });
    }
    // ---- load balancers -------------------------------------------------------------------
    async getLoadBalancer(id) {
        return (await data(this.dots.loadBalancer.getLoadBalancer({ load_balancer_id: id }))).load_balancer;
    }
    async addDropletsToLoadBalancer(id, dropletIds) {
        await this.http.post(`/load_balancers/${id}/droplets`, { droplet_ids: dropletIds });
    }
    async removeDropletsFromLoadBalancer(id, dropletIds) {
        await this.http.delete(`/load_balancers/${id}/droplets`, { data: { droplet_ids: dropletIds } });
    }
    // ---- container registry ---------------------------------------------------------------
    /**
     * A docker config (`{"auths":{…}}`) for DigitalOcean's registry. The returned auth values
     * are secrets: the caller masks them (maskSecret) before anything is logged.
     */
    async getDockerCredentials(options = {}) {
        const params = { read_write: options.readWrite ?? false };
        if (options.expirySeconds !== undefined)
            params['expiry_seconds'] = options.expirySeconds;
        return data(this.http.get('/registry/docker-credentials', { params }));
    }
    async getRegistry() {
        return (await data(this.http.get('/registry'))).registry;
    }
    // ---- databases ------------------------------------------------------------------------
    async getDatabaseCluster(id) {
        return (await data(this.http.get(`/databases/${encodeURIComponent(id)}`))).database;
    }
    // ---- reserved IPs (not in dots-wrapper: raw calls on the same client) ---------------
    listReservedIps() {
        return collectPages(this.http, this.endpoint, 'reserved_ips', () => this.http.get('/reserved_ips', { params: { per_page: PER_PAGE, page: 1 } }));
    }
    async getReservedIp(ip) {
        return (await data(this.http.get(`/reserved_ips/${encodeURIComponent(ip)}`)))
            .reserved_ip;
    }
    /** Reserves a new IP, either in a region or directly assigned to a droplet. */
    async createReservedIp(target) {
        const body = 'region' in target ? { region: target.region } : { droplet_id: target.dropletId };
        return (await data(this.http.post('/reserved_ips', body))).reserved_ip;
    }
    async assignReservedIp(ip, dropletId) {
        return (await data(this.http.post(`/reserved_ips/${encodeURIComponent(ip)}/actions`, { type: 'assign', droplet_id: dropletId }))).action;
    }
}
function progressLine(action, waitedMs) {
    const on = action.resource_type && action.resource_id ? ` on ${action.resource_type} ${action.resource_id}` : '';
    return `waiting for DigitalOcean action ${action.id} (${action.type}${on}): ${action.status} after ${Math.round(waitedMs / 1000)}s`;
}
function createClient(options) {
    return new DigitalOceanClient(options);
}

// EXTERNAL MODULE: ./src/lib/action/errors.ts
var errors = __webpack_require__(49471);
;// CONCATENATED MODULE: ./src/lib/digitalocean/endpoint.ts

const DEFAULT_API_ENDPOINT = 'https://api.digitalocean.com';
/**
 * The input `api-endpoint` as the base URL requests are made against, always ending in
 * `/v2` (no trailing slash). Accepted with or without the `/v2` and a trailing slash:
 * `https://api.digitalocean.com`, `https://api.digitalocean.com/v2/`, `http://127.0.0.1:4010/v2`.
 */
function normalizeApiEndpoint(value, inputName = 'api-endpoint') {
    const raw = value.trim() || DEFAULT_API_ENDPOINT;
    let url;
    try {
        url = new URL(raw);
    }
    catch {
        throw new errors/* ConfigurationError */.j1(`input "${inputName}" has ${JSON.stringify(value)}: not a valid URL`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
        throw new errors/* ConfigurationError */.j1(`input "${inputName}" has ${JSON.stringify(value)}: URL must use http or https`);
    }
    if (url.username || url.password || url.search || url.hash) {
        throw new errors/* ConfigurationError */.j1(`input "${inputName}" has ${JSON.stringify(value)}: give only scheme, host, port and path (no credentials, query or fragment)`);
    }
    let path = url.pathname.replace(/\/+$/, '');
    if (!path.endsWith('/v2'))
        path = `${path}/v2`;
    return `${url.origin}${path}`;
}

;// CONCATENATED MODULE: ./src/lib/digitalocean/index.ts








/***/ })

};
