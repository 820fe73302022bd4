// Token exchange (RFC 8693) with openid-client (v6) against Keygate: a
// back-end service discovers the issuer, authenticates with its secret
// (client_secret_basic), gets its own token (client_credentials) to act
// with, and exchanges a person's access token with genericGrantRequest:
// once as an impersonation (no actor token) and once as a delegation (its
// own token as actor_token), then once more with the delegated token as
// the subject, so the actors nest.
//
// Run by the Rust test crates/keygate/tests/e2e/token_exchange.rs, which
// reads one JSON object per line from stdout:
//   {"step":"discovered", ...}     what discovery said about the grant
//   {"step":"actor", ...}          the service's own token (claims)
//   {"step":"impersonation", ...}  the exchange's answer and token claims
//   {"step":"delegation", ...}     the same, with actor_token
//   {"step":"nested", ...}         the delegated token exchanged again
//   {"step":"refused", ...}        an exchange for an audience not registered
//
// Environment:
//   KEYGATE_ISSUER          the tenant's issuer (http://127.0.0.1:PORT/acme/as)
//   KEYGATE_CLIENT_ID, KEYGATE_CLIENT_SECRET   the service (a confidential client)
//   KEYGATE_SUBJECT_TOKEN   a person's access token
//   KEYGATE_AUDIENCE        an audience the service may exchange for
//   KEYGATE_SCOPE           the scope to ask for

import * as client from 'openid-client';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

const watchdog = setTimeout(() => {
  console.error('token_exchange.mjs: timed out');
  process.exit(2);
}, 60_000);

function out(record) {
  console.log(JSON.stringify(record));
}

function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

/** The parts of an answer the test checks. */
function answer(tokens) {
  return {
    token_type: tokens.token_type,
    issued_token_type: tokens.issued_token_type ?? null,
    scope: tokens.scope ?? null,
    expires_in: tokens.expires_in ?? null,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    has_id_token: typeof tokens.id_token === 'string',
    access_token: tokens.access_token,
    claims: jwtClaims(tokens.access_token),
  };
}

let failed = false;
try {
  const config = await client.discovery(
    new URL(env('KEYGATE_ISSUER')),
    env('KEYGATE_CLIENT_ID'),
    undefined,
    client.ClientSecretBasic(env('KEYGATE_CLIENT_SECRET')),
    { execute: [client.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  out({ step: 'discovered', grant_types_supported: meta.grant_types_supported });

  // The service's own token: the actor of a delegation.
  const own = await client.clientCredentialsGrant(config, {});
  out({ step: 'actor', claims: jwtClaims(own.access_token) });

  const audience = env('KEYGATE_AUDIENCE');
  const scope = env('KEYGATE_SCOPE');
  const subject = env('KEYGATE_SUBJECT_TOKEN');

  // Impersonation: the person's token alone.
  const impersonated = await client.genericGrantRequest(config, GRANT, {
    subject_token: subject,
    subject_token_type: ACCESS_TOKEN,
    requested_token_type: ACCESS_TOKEN,
    audience,
    scope,
  });
  out({ step: 'impersonation', ...answer(impersonated) });

  // Delegation: the service acts for the person.
  const delegated = await client.genericGrantRequest(config, GRANT, {
    subject_token: subject,
    subject_token_type: ACCESS_TOKEN,
    actor_token: own.access_token,
    actor_token_type: ACCESS_TOKEN,
    audience,
    scope,
  });
  out({ step: 'delegation', ...answer(delegated) });

  // The delegated token exchanged again, the service acting once more.
  const nested = await client.genericGrantRequest(config, GRANT, {
    subject_token: delegated.access_token,
    subject_token_type: ACCESS_TOKEN,
    actor_token: own.access_token,
    actor_token_type: ACCESS_TOKEN,
    resource: audience,
  });
  out({ step: 'nested', ...answer(nested) });

  // An audience the service was not registered for.
  try {
    await client.genericGrantRequest(config, GRANT, {
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      audience: 'https://not-registered.example.com',
    });
    throw new Error('an exchange for an unregistered audience succeeded');
  } catch (e) {
    if (e?.message === 'an exchange for an unregistered audience succeeded') throw e;
    out({ step: 'refused', name: e?.name, error: e?.error ?? null, status: e?.status ?? null,
      error_description: e?.error_description ?? null });
  }
} catch (e) {
  failed = true;
  console.error(`token_exchange.mjs: FAILED: ${e && e.stack ? e.stack : e}`);
  console.error(`token_exchange.mjs: ${JSON.stringify({ name: e?.name, code: e?.code, error: e?.error, status: e?.status, description: e?.error_description })}`);
} finally {
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
