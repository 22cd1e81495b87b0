#!/usr/bin/env node
// A native app that registers itself with npm `oauth4webapi` (RFC 7591,
// dynamicClientRegistrationRequest / processDynamicClientRegistrationResponse), signs a user in
// with the authorization code flow and PKCE S256 through headless Debian Chromium (the real
// /login and consent pages), refreshes, then manages its registration (RFC 7592: read, update,
// delete) with its registration access token. For tests/compat/test_oidc_registration.py.
//
//   node register.mjs '{"issuer":"http://127.0.0.1:P","email":"…","password":"…",
//                       "initial_access_token":"…"?}'
//
// Prints one JSON line: the summary, or {failure, steps}. Never run `npx playwright install`.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import * as oauth from 'oauth4webapi';
import { chromium } from 'playwright-core';

const spec = JSON.parse(process.argv[2] ?? '{}');
const STEP_TIMEOUT_MS = 15000;
const insecure = { [oauth.allowInsecureRequests]: true }; // the test server is plain http

// The loopback redirect a native app listens on (RFC 8252 §7.3).
let arrived;
const callback = new Promise((resolve) => { arrived = resolve; });
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/callback')) arrived(`http://127.0.0.1:${port}${req.url}`);
  res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title><p>done');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const redirectUri = `http://127.0.0.1:${port}/callback`;

const steps = [];
const step = (s) => steps.push(s);
const out = { secrets: {} };
let context;
try {
  step('discovery');
  const issuer = new URL(spec.issuer);
  const as = await oauth.processDiscoveryResponse(
    issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }));
  out.registration_endpoint = as.registration_endpoint ?? null;

  step('register');
  const metadata = {
    client_name: 'oauth4webapi native app',
    redirect_uris: [redirectUri],
    token_endpoint_auth_method: 'none',
    application_type: 'native',
    grant_types: ['authorization_code', 'refresh_token'],
    scope: 'openid profile email',
  };
  const registered = await oauth.processDynamicClientRegistrationResponse(
    await oauth.dynamicClientRegistrationRequest(as, metadata, {
      ...insecure, initialAccessToken: spec.initial_access_token,
    }));
  out.registered = { ...registered };
  delete out.registered.registration_access_token;
  const rat = registered.registration_access_token;
  out.secrets.registration_access_token = rat;
  const client = { client_id: registered.client_id, token_endpoint_auth_method: 'none' };

  step('authorize');
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const nonce = oauth.generateRandomNonce();
  const url = new URL(as.authorization_endpoint);
  for (const [k, v] of Object.entries({
    client_id: client.client_id, redirect_uri: redirectUri, response_type: 'code',
    scope: 'openid profile email', state, nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
  })) url.searchParams.set(k, v);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  await page.goto(url.href);
  await page.waitForSelector('#email');
  await page.fill('#email', spec.email);
  await page.fill('#password', spec.password);
  await page.click('#submit');
  step('consent');
  await page.waitForSelector('#allow');
  out.consent_shown = true;
  out.consent_names_client = (await page.content()).includes('oauth4webapi native app');
  await page.click('#allow');
  const callbackUrl = new URL(await Promise.race([
    callback,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no callback')), STEP_TIMEOUT_MS)),
  ]));

  step('token');
  const params = oauth.validateAuthResponse(as, client, callbackUrl, state);
  const tokens = await oauth.processAuthorizationCodeResponse(as, client,
    await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, insecure),
    { expectedNonce: nonce, requireIdToken: true });
  out.secrets.tokens = [tokens.access_token, tokens.refresh_token, tokens.id_token];
  out.id_token_claims = oauth.getValidatedIdTokenClaims(tokens);
  out.scope = tokens.scope;

  step('userinfo');
  const ui = await oauth.processUserInfoResponse(as, client, out.id_token_claims.sub,
    await oauth.userInfoRequest(as, client, tokens.access_token, insecure));
  out.userinfo_email = ui.email;

  step('refresh');
  const refreshed = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token, insecure));
  out.secrets.tokens.push(refreshed.access_token, refreshed.refresh_token);
  out.refresh_rotated = refreshed.refresh_token !== tokens.refresh_token;

  step('rfc7592');
  const manage = (method, token, body) => fetch(registered.registration_client_uri, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json' },
    body: body && JSON.stringify(body),
  });
  const read = await manage('GET', rat);
  out.read = { status: read.status, body: await read.json() };
  const updated = await manage('PUT', rat, { ...metadata, client_id: client.client_id, client_name: 'renamed by 7592' });
  out.update = { status: updated.status, body: await updated.json() };
  const rat2 = out.update.body.registration_access_token;
  out.secrets.registration_access_token_2 = rat2;
  delete out.update.body.registration_access_token;
  out.old_token_after_update = (await manage('GET', rat)).status;
  out.delete_status = (await manage('DELETE', rat2)).status;
  out.read_after_delete = (await manage('GET', rat2)).status;
  try {
    await oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshed.refresh_token, insecure));
    out.refresh_after_delete = 'accepted';
  } catch (e) {
    out.refresh_after_delete = e.error ?? String(e);
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
} catch (e) {
  process.stdout.write(`${JSON.stringify({ failure: String(e?.stack ?? e), cause: e?.cause ?? null, steps })}\n`);
} finally {
  await context?.close();
  server.close();
}
