#!/usr/bin/env node
// OAuth 2.0 Token Exchange (RFC 8693) against Portcullis with npm `oauth4webapi` (3.x), for
// tests/compat/test_oidc_token_exchange.py.
//
// Reads one JSON line on stdin: {issuer, client_id, client_secret, exchanges: [{name, params,
// audience?}]}. Discovery (oauth4webapi checks the issuer), then per exchange one token-endpoint
// request with the token-exchange grant (`genericTokenEndpointRequest`, client_secret_basic) and
// its processing (`processGenericTokenEndpointResponse`). A success is checked the way a resource
// server would: `validateJwtAccessToken` (RFC 9068: typ at+jwt, signature against the JWKS, iss,
// exp, `audience`), and the claims decoded with `jose`. Prints one JSON line:
// {grant_types_supported, results: {name: {ok, response, claims, header} | {ok: false, error,
// error_description, status}}} and exits 0; anything unexpected exits 1 with the reason on stderr.

import readline from 'node:readline';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const insecure = { [oauth.allowInsecureRequests]: true };

async function readSpec() {
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    if (line.trim()) {
      rl.close();
      return JSON.parse(line);
    }
  }
  throw new Error('no spec on stdin');
}

async function exchange(as, client, auth, e) {
  const response = await oauth.genericTokenEndpointRequest(
    as, client, auth, GRANT, new URLSearchParams(e.params), insecure);
  try {
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    const out = {
      ok: true,
      response: result,
      header: jose.decodeProtectedHeader(result.access_token),
      claims: jose.decodeJwt(result.access_token),
    };
    if (e.audience) {
      // As a resource server for that audience would check the token.
      const request = new Request('http://resource.invalid/', {
        headers: { authorization: `Bearer ${result.access_token}` },
      });
      const verified = await oauth.validateJwtAccessToken(as, request, e.audience, insecure);
      out.verified_sub = verified.sub;
      out.verified_aud = verified.aud;
    }
    return out;
  } catch (err) {
    if (err instanceof oauth.ResponseBodyError) {
      return { ok: false, error: err.error, error_description: err.error_description, status: err.status };
    }
    throw err;
  }
}

async function main() {
  const spec = await readSpec();
  const issuer = new URL(spec.issuer);
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const client = { client_id: spec.client_id };
  const auth = oauth.ClientSecretBasic(spec.client_secret);
  const results = {};
  for (const e of spec.exchanges) {
    results[e.name] = await exchange(as, client, auth, e);
  }
  process.stdout.write(`${JSON.stringify({ grant_types_supported: as.grant_types_supported, results })}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err?.stack ?? err}\n${err?.cause ? JSON.stringify(err.cause) : ''}\n`);
  process.exit(1);
});
