// A public client on openid-client (v6) using DPoP (RFC 9449) against
// Keygate: it discovers the issuer, makes a DPoP key pair and handle
// (`getDPoPHandle`), exchanges an authorization code for DPoP-bound tokens
// (openid-client answers the server's `use_dpop_nonce` by retrying with
// the nonce), refreshes them with a proof by the same key and calls
// userinfo with the DPoP scheme. The code comes from the Rust test, which
// signs the person in through the hosted page itself (no browser here).
//
// Run by the Rust test crates/keygate/tests/e2e/dpop.rs, which reads one
// JSON object per line from stdout:
//   {"step":"discovered", ...}   what discovery said about DPoP
//   {"step":"key", ...}          the public JWK and its thumbprint, as
//                                openid-client computes it
//   {"step":"tokens", ...}       token_type and the access token's claims
//   {"step":"refreshed", ...}    the same after a refresh
//   {"step":"userinfo", ...}     the userinfo answer
//
// Environment:
//   KEYGATE_ISSUER          the tenant's issuer (http://127.0.0.1:PORT/acme/as)
//   KEYGATE_CLIENT_ID       a public client
//   KEYGATE_CALLBACK_URL    the redirect the sign-in ended with (code, state, iss)
//   KEYGATE_CODE_VERIFIER   the PKCE verifier of the authorization request
//   KEYGATE_STATE, KEYGATE_NONCE  the request's state and nonce

import * as client from 'openid-client';

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
}

const watchdog = setTimeout(() => {
  console.error('dpop_client.mjs: timed out');
  process.exit(2);
}, 60_000);

function out(record) {
  console.log(JSON.stringify(record));
}

function jwtClaims(jwt) {
  return JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8'));
}

let failed = false;
try {
  // The test server speaks plain http.
  const config = await client.discovery(
    new URL(env('KEYGATE_ISSUER')),
    env('KEYGATE_CLIENT_ID'),
    undefined,
    client.None(),
    { execute: [client.allowInsecureRequests] },
  );
  const meta = config.serverMetadata();
  out({ step: 'discovered', dpop_signing_alg_values_supported: meta.dpop_signing_alg_values_supported });

  const keyPair = await client.randomDPoPKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, keyPair);
  out({
    step: 'key',
    jwk: await crypto.subtle.exportKey('jwk', keyPair.publicKey),
    jkt: await DPoP.calculateThumbprint(),
  });

  const tokens = await client.authorizationCodeGrant(
    config,
    new URL(env('KEYGATE_CALLBACK_URL')),
    {
      pkceCodeVerifier: env('KEYGATE_CODE_VERIFIER'),
      expectedState: env('KEYGATE_STATE'),
      expectedNonce: env('KEYGATE_NONCE'),
      idTokenExpected: true,
    },
    undefined,
    { DPoP },
  );
  out({
    step: 'tokens',
    token_type: tokens.token_type,
    has_refresh_token: typeof tokens.refresh_token === 'string',
    access_token: jwtClaims(tokens.access_token),
  });

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP });
  out({
    step: 'refreshed',
    token_type: refreshed.token_type,
    rotated: typeof refreshed.refresh_token === 'string' && refreshed.refresh_token !== tokens.refresh_token,
    access_token: jwtClaims(refreshed.access_token),
  });

  const sub = tokens.claims().sub;
  const userinfo = await client.fetchUserInfo(config, refreshed.access_token, sub, { DPoP });
  out({ step: 'userinfo', ...userinfo });
} catch (e) {
  failed = true;
  console.error(`dpop_client.mjs: FAILED: ${e && e.stack ? e.stack : e}`);
  console.error(`dpop_client.mjs: ${JSON.stringify({ name: e?.name, code: e?.code, error: e?.error, status: e?.status, cause: e?.cause })}`);
} finally {
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
