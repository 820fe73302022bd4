// A confidential client on openid-client (v6) that authenticates with a
// client assertion (RFC 7523) instead of sending its secret:
// `private_key_jwt` (PrivateKeyJwt, its private key) or `client_secret_jwt`
// (ClientSecretJwt, its secret as the HMAC key). It discovers the issuer,
// gets a token with the client_credentials grant, introspects it and
// revokes it, each request authenticated by a fresh assertion.
//
// Run by the Rust test crates/keygate/tests/e2e/client_auth_jwt.rs, which
// reads one JSON object per line from stdout:
//   {"step":"discovered", ...}   the discovery document's auth fields
//   {"step":"token", ...}        the token answer and its claims
//   {"step":"introspected", ...} the introspection answer
//   {"step":"revoked"}           revocation answered 200
//   {"step":"after_revocation", ...} introspection after revocation
//
// Environment:
//   KEYGATE_ISSUER       the tenant's issuer (http://127.0.0.1:PORT/acme/as)
//   KEYGATE_CLIENT_ID    the client
//   KEYGATE_AUTH         private_key_jwt or client_secret_jwt
//   KEYGATE_PKCS8        private_key_jwt: the private key, PKCS#8 DER in base64
//   KEYGATE_ALG          private_key_jwt: RS256, ES256 or EdDSA
//   KEYGATE_KID          private_key_jwt: the key's kid (optional)
//   KEYGATE_CLIENT_SECRET client_secret_jwt: the secret

import * as client from 'openid-client';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const watchdog = setTimeout(() => {
  console.error('jwt_client.mjs: timed out');
  process.exit(2);
}, 60_000);

function out(record) {
  console.log(JSON.stringify(record));
}

function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

const IMPORT = {
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  EdDSA: { name: 'Ed25519' },
};

async function authentication() {
  const method = env('KEYGATE_AUTH');
  if (method === 'client_secret_jwt') {
    return client.ClientSecretJwt(env('KEYGATE_CLIENT_SECRET'));
  }
  if (method !== 'private_key_jwt') throw new Error(`unknown KEYGATE_AUTH ${method}`);
  const alg = env('KEYGATE_ALG');
  const der = Buffer.from(env('KEYGATE_PKCS8'), 'base64');
  const key = await crypto.subtle.importKey('pkcs8', der, IMPORT[alg], false, ['sign']);
  const kid = process.env.KEYGATE_KID || undefined;
  return client.PrivateKeyJwt(kid ? { key, kid } : key);
}

try {
  const issuer = new URL(env('KEYGATE_ISSUER'));
  const insecure = { execute: [client.allowInsecureRequests] };
  const config = await client.discovery(issuer, env('KEYGATE_CLIENT_ID'), undefined, await authentication(), insecure);
  const meta = config.serverMetadata();
  out({
    step: 'discovered',
    token_endpoint_auth_methods_supported: meta.token_endpoint_auth_methods_supported,
    token_endpoint_auth_signing_alg_values_supported: meta.token_endpoint_auth_signing_alg_values_supported,
    introspection_endpoint_auth_methods_supported: meta.introspection_endpoint_auth_methods_supported,
    revocation_endpoint_auth_methods_supported: meta.revocation_endpoint_auth_methods_supported,
  });

  const tokens = await client.clientCredentialsGrant(config);
  out({
    step: 'token',
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    claims: jwtClaims(tokens.access_token),
  });

  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  out({ step: 'introspected', active: introspected.active, client_id: introspected.client_id });

  await client.tokenRevocation(config, tokens.access_token);
  out({ step: 'revoked' });

  const after = await client.tokenIntrospection(config, tokens.access_token);
  out({ step: 'after_revocation', active: after.active });
} catch (e) {
  console.error('jwt_client.mjs failed:', e?.name, e?.code, e?.error, e?.message);
  if (e?.cause) console.error('cause:', JSON.stringify(e.cause));
  process.exitCode = 1;
} finally {
  clearTimeout(watchdog);
}
