// A real OpenID Connect provider (node oidc-provider) for Keygate to
// federate with in tests: the upstream a person signs in at before coming
// back to Keygate. It listens on 127.0.0.1 only, with its built-in
// development pages (a sign-in form where any password is accepted for a
// known account, then a consent form with a Cancel link), PKCE required,
// and a signing key made at start.
//
// Run by the Rust tests of crates/keygate/tests/e2e/federation_upstream.rs
// (`Upstream::start`), or by hand:
//
//   node oidc_upstream.mjs '{"client": {...}, "accounts": {...}}' [PORT]
//
// The JSON argument:
//   client    {client_id, client_secret, redirect_uris: [...]}: Keygate,
//             authenticating with client_secret_basic
//   accounts  {accountId: {email, email_verified, name}}: the people; the
//             sign-in form's "login" is the accountId, which is also `sub`
//   id_token_claims  optional, true: the id_token carries email and name too
//             (by default, as OpenID Connect Core 5.4 says, only userinfo does)
// PORT (or $UPSTREAM_PORT): where to listen; 0 or absent for any free port.
//
// Prints one JSON line {"issuer": "http://127.0.0.1:PORT"} on stdout once it
// listens, and runs until killed. Its own log goes to stderr.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';

// stdout carries the issuer line only: oidc-provider's notices (console.info)
// go to stderr with its warnings, and a reader that stopped listening after
// the issuer line is no reason to stop.
console.info = console.error;
process.stdout.on('error', () => {});
const { default: Provider } = await import('oidc-provider');

const [json, portArg] = process.argv.slice(2);
if (!json) {
  console.error('usage: node oidc_upstream.mjs CONFIG_JSON [PORT]');
  process.exit(64);
}
const config = JSON.parse(json);
const { client, accounts } = config;
if (!client?.client_id || !client?.client_secret || !Array.isArray(client?.redirect_uris) || typeof accounts !== 'object') {
  console.error('oidc_upstream.mjs: the config needs client {client_id, client_secret, redirect_uris} and accounts');
  process.exit(64);
}
const port = Number(portArg ?? process.env.UPSTREAM_PORT ?? 0);

// Listen first, so the issuer names the port actually bound (no race for a
// port chosen in advance), then hand the requests to the provider.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [signingKey] },
  // OpenID Connect Core 5.4: claims asked for by scope are in userinfo, and
  // in the id_token only when no access token is issued (the default).
  // `"id_token_claims": true` in the config puts them in the id_token too.
  conformIdTokenClaims: config.id_token_claims !== true,
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  async findAccount(ctx, id) {
    const account = Object.hasOwn(accounts, id) ? accounts[id] : undefined;
    if (!account) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: account.email,
          email_verified: account.email_verified,
          name: account.name,
        };
      },
    };
  },
  // Lifetimes in seconds (set, so that it does not warn of its defaults).
  ttl: {
    AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Grant: 3600, Interaction: 600, Session: 3600,
  },
  // Every authorization request must carry an S256 code challenge.
  pkce: { methods: ['S256'], required: () => true },
  features: {
    // The built-in pages: a sign-in form (login = the accountId, any
    // password) and a consent form, each with a [ Cancel ] link to
    // /interaction/{uid}/abort, which answers the client access_denied.
    devInteractions: { enabled: true },
  },
  cookies: {
    keys: [randomBytes(32).toString('hex')],
    // Plain http on loopback: a SameSite=None cookie without Secure is
    // dropped by browsers, so every cookie here is Lax. The names are this
    // upstream's own, as cookies do not tell ports apart.
    long: { sameSite: 'lax' },
    short: { sameSite: 'lax' },
    names: { session: 'upstream_session', interaction: 'upstream_interaction', resume: 'upstream_resume' },
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>upstream error</title><h1>${out.error}</h1><p>${String(out.error_description ?? '').replace(/[<>&"]/g, '')}</p>`;
  },
});
provider.on('server_error', (ctx, err) => console.error('oidc_upstream.mjs: server_error', err));
for (const event of ['authorization.error', 'grant.error', 'userinfo.error']) {
  provider.on(event, (ctx, err) => console.error(`oidc_upstream.mjs: ${event}: ${err.message} ${err.error_description ?? ''} ${err.error_detail ?? ''}`));
}
server.on('request', provider.callback());

console.log(JSON.stringify({ issuer }));
