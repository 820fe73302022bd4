// The peer for keygate-bench: oidc-provider (npm, OpenID Certified) on
// 127.0.0.1 with an RS256 key and clients equivalent to the ones the bench
// provisions on Keygate. Started by bench/peer/run.sh from the scratch folder
// where oidc-provider is installed (this file is copied there).
//
// Equivalence with Keygate:
// - bench-public: public client (token_endpoint_auth_method none, PKCE
//   required), authorization_code + refresh_token  (W1, W4)
// - bench-confidential: client_secret_basic, authorization_code +
//   refresh_token, refresh tokens rotated on every use  (W2)
// - bench-cc: client_secret_post, client_credentials  (W3)
// - id_tokens signed RS256 with one RSA-2048 key; access tokens issued for
//   the API resource are JWTs signed RS256 (RFC 9068, like Keygate's), so
//   W1 and W2 make two signatures per request and W3 one, as on Keygate.
//   oidc-provider only accepts its own opaque tokens at userinfo, so a code
//   whose scope lacks offline_access (the bench's W4 setup, scope
//   "openid profile email") yields an opaque userinfo access token.
// - offline_access is only granted by oidc-provider with prompt=consent
//   (OIDC Core 11), so the bench sends prompt=consent; the consent step is
//   approved automatically here, and sign-in is a minimal form (one POST
//   form: hidden uid, email, password) that the bench fills in like
//   Keygate's hosted page.
// - oidc-provider's in-memory adapter over an unbounded Map with expiry: no
//   database at all, which favours the peer (Keygate writes to SQLite).

import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';
// oidc-provider's own in-memory adapter, given an unbounded store: its
// default store is an LRU of 1000 entries, which evicts the thousands of
// authorization codes the bench prepares before they are used.
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';

const env = (name, fallback) => process.env[name] ?? fallback;
const PORT = Number(env('PEER_PORT', '3000'));
const ISSUER = `http://127.0.0.1:${PORT}`;
const REDIRECT_URI = env('PEER_REDIRECT_URI', 'http://127.0.0.1:9/callback');
const CONFIDENTIAL_SECRET = env('PEER_CONFIDENTIAL_SECRET', randomBytes(32).toString('base64url'));
const CC_SECRET = env('PEER_CC_SECRET', randomBytes(32).toString('base64url'));
const USER_EMAIL = env('PEER_USER_EMAIL', 'bench@example.com');
const USER_PASSWORD = env('PEER_USER_PASSWORD', randomBytes(18).toString('base64url'));
const ACCOUNT_ID = 'bench-user-1';
const API = 'urn:keygate-bench:api';
const OIDC_SCOPES = new Set(['openid', 'offline_access', 'profile', 'email']);

// get/set/delete with expiry, the interface MemoryAdapter uses.
class ExpiringMap {
  #map = new Map();

  get(key) {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiry <= Date.now()) {
      this.#map.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key, value, { maxAge } = {}) {
    const expiry = typeof maxAge === 'number' ? Date.now() + maxAge : Infinity;
    this.#map.set(key, { value, expiry });
    return this;
  }

  has(key) {
    return this.get(key) !== undefined;
  }

  delete(key) {
    return this.#map.delete(key);
  }

  sweep() {
    const now = Date.now();
    for (const [key, entry] of this.#map) if (entry.expiry <= now) this.#map.delete(key);
  }
}
const store = new ExpiringMap();
setInterval(() => store.sweep(), 30_000).unref();

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };

const configuration = {
  adapter: (model) => new MemoryAdapter(model, store),
  clients: [
    {
      client_id: 'bench-public',
      token_endpoint_auth_method: 'none',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    },
    {
      client_id: 'bench-confidential',
      client_secret: CONFIDENTIAL_SECRET,
      token_endpoint_auth_method: 'client_secret_basic',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'RS256',
    },
    {
      client_id: 'bench-cc',
      client_secret: CC_SECRET,
      token_endpoint_auth_method: 'client_secret_post',
      redirect_uris: [],
      grant_types: ['client_credentials'],
      response_types: [],
    },
  ],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  scopes: [...OIDC_SCOPES],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(_ctx, sub) {
    if (sub !== ACCOUNT_ID) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: USER_EMAIL, email_verified: true, name: 'Bench User' };
      },
    };
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, _client, oneOf) => oneOf ?? API,
      // Codes and refresh tokens carrying offline_access get the API's JWT
      // access token; a code without it gets the userinfo (opaque) token.
      useGrantedResource: async (_ctx, model) => Boolean(model.scopes?.has('offline_access')),
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== API) throw new errors.InvalidTarget();
        return {
          scope: 'api',
          audience: API,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 24 * 60 * 60,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  rotateRefreshToken: true,
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: {
    AccessToken: 24 * 60 * 60,
    AuthorizationCode: 600,
    ClientCredentials: 24 * 60 * 60,
    Grant: 14 * 24 * 60 * 60,
    IdToken: 60 * 60,
    Interaction: 60 * 60,
    RefreshToken: 14 * 24 * 60 * 60,
    Session: 14 * 24 * 60 * 60,
  },
};

const provider = new Provider(ISSUER, configuration);

// The first few errors with their detail (error responses only say
// "grant request is invalid"), in the log run.sh keeps.
let reported = 0;
for (const event of ['grant.error', 'server_error', 'authorization.error', 'userinfo.error']) {
  provider.on(event, (_ctx, err) => {
    if (reported++ < 10) console.error(`${event}: ${err.error ?? err.name}: ${err.error_detail ?? err.message}`);
  });
}

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function loginPage(uid, message) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>Sign in</title></head><body>
<h1>Sign in</h1>${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<input type="hidden" name="uid" value="${escapeHtml(uid)}">
<label>E-mail <input type="email" name="email" autocomplete="username"></label>
<label>Password <input type="password" name="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button>
</form></body></html>`;
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16384) throw new Error('body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const same = (a, b) => {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
};

// Grants everything the authorization request asked for.
async function grantFor(details, accountId) {
  const { Grant } = provider;
  const grant = details.grantId
    ? await Grant.find(details.grantId)
    : new Grant({ accountId, clientId: details.params.client_id });
  const requested = String(details.params.scope ?? '').split(' ').filter((s) => OIDC_SCOPES.has(s));
  if (requested.length) grant.addOIDCScope(requested.join(' '));
  const d = details.prompt?.details ?? {};
  if (d.missingOIDCClaims?.length) grant.addOIDCClaims(d.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  const html = (status, body) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(body);
  };
  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'login') return html(200, loginPage(uid));
    // consent: approved automatically
    const accountId = details.session?.accountId;
    const grantId = await grantFor(details, accountId);
    return provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    if (!same(form.get('email') ?? '', USER_EMAIL) || !same(form.get('password') ?? '', USER_PASSWORD)) {
      return html(200, loginPage(uid, 'Wrong e-mail or password.'));
    }
    const grantId = await grantFor(details, ACCOUNT_ID);
    return provider.interactionFinished(
      req,
      res,
      { login: { accountId: ACCOUNT_ID }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  }
  res.writeHead(405).end();
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login))?$/.exec(req.url.split('?')[0]);
  if (!m) return callback(req, res);
  interaction(req, res, m[1], m[2]).catch((err) => {
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/plain' });
    res.end(`interaction failed: ${err.message}`);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(PORT, '127.0.0.1', () => {
  console.log(JSON.stringify({ issuer: ISSUER, pid: process.pid, node: process.version }));
});

for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(0));
