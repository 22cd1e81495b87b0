#!/usr/bin/env node
// A device (a TV, a CLI) signing in to Portcullis with the OAuth 2.0 Device Authorization Grant
// (RFC 8628) on npm `oauth4webapi`, while the person answers in headless Debian Chromium
// (playwright-core), for tests/compat/test_oidc_device_flow.py.
//
// 1. Reads one JSON line on stdin: {issuer, client_id, scope, email, password}.
// 2. Discovery; deviceAuthorizationRequest + processDeviceAuthorizationResponse; two polls at once
//    (authorization_pending, then slow_down: the client adds 5 s to its interval).
// 3. Chromium opens verification_uri (not the complete one), types the user code, signs in on the
//    real /login page, reads the confirmation page (client, code, scopes) and allows. Meanwhile the
//    device polls at its interval (deviceCodeGrantRequest + processDeviceCodeResponse, which
//    checks the ID token's claims); the ID token's signature is verified with jose against the
//    JWKS. Then a refresh, and the device code presented again (refused).
// 4. Prints one JSON line: the summary (or {failure, steps}) and exits.
//
// Never run `npx playwright install`: the system Chromium is used.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import { chromium } from 'playwright-core';

const STEP_TIMEOUT_MS = 15000;
const insecure = { [oauth.allowInsecureRequests]: true };

const spec = JSON.parse(await new Promise((resolve) => {
  readline.createInterface({ input: process.stdin }).once('line', resolve);
}));

const steps = [];
function step(name) { steps.push(name); }
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** The OAuth error of a token response (oauth4webapi throws ResponseBodyError), else rethrow. */
function oauthError(e) {
  if (e instanceof oauth.ResponseBodyError) return e.error;
  throw e;
}

async function poll(as, client, deviceCode) {
  const response = await oauth.deviceCodeGrantRequest(as, client, oauth.None(), deviceCode, insecure);
  return oauth.processDeviceCodeResponse(as, client, response);
}

/** Polls at the interval until the tokens come (or a final error); returns what each poll saw. */
async function pollUntilAnswered(as, client, deviceCode, interval) {
  const seen = [];
  let wait = interval;
  const deadline = Date.now() + 90000;
  while (Date.now() < deadline) {
    await sleep(wait * 1000);
    try {
      const tokens = await poll(as, client, deviceCode);
      seen.push('tokens');
      return { tokens, seen, interval: wait };
    } catch (e) {
      const error = oauthError(e);
      seen.push(error);
      if (error === 'slow_down') wait += 5;
      else if (error !== 'authorization_pending') return { error, seen, interval: wait };
    }
  }
  throw new Error(`no answer within 90 s: ${seen.join(', ')}`);
}

async function approve(page, verificationUri, userCode) {
  await page.goto(verificationUri);
  await page.waitForSelector('#user_code');
  const entryPath = new URL(page.url()).pathname;
  await page.fill('#user_code', userCode);
  await page.click('#continue');
  await page.waitForSelector('#email');
  const signIn = new URL(page.url());
  await page.fill('#email', spec.email);
  await page.fill('#password', spec.password);
  await page.click('#submit');
  await page.waitForSelector('#allow');
  const confirm = {
    path: new URL(page.url()).pathname,
    client: await page.textContent('#client'),
    user_code: await page.textContent('#user-code'),
    scopes: await page.$$eval('ul.scopes li', (items) => items.map((li) => li.id)),
    who: await page.textContent('#who'),
  };
  await page.click('#allow');
  await page.waitForSelector('#done');
  return {
    entry_path: entryPath,
    sign_in_path: signIn.pathname,
    sign_in_returns_to: signIn.searchParams.get('r')?.split('?')[0] ?? null,
    confirm,
    done_path: new URL(page.url()).pathname,
    done_text: await page.textContent('#done'),
  };
}

async function run(page) {
  const issuer = new URL(spec.issuer);
  const client = { client_id: spec.client_id };
  step('discovery');
  const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));

  step('device_authorization');
  const da = await oauth.processDeviceAuthorizationResponse(as, client,
    await oauth.deviceAuthorizationRequest(as, client, oauth.None(), { scope: spec.scope }, insecure));

  step('early polls');
  const early = [];
  for (let i = 0; i < 2; i += 1) {
    try {
      await poll(as, client, da.device_code);
      early.push('tokens');
    } catch (e) {
      early.push(oauthError(e));
    }
  }
  const interval = (da.interval ?? 5) + (early.includes('slow_down') ? 5 : 0);

  step('browser');
  const polling = pollUntilAnswered(as, client, da.device_code, interval);
  polling.catch(() => {});
  const browser = await approve(page, da.verification_uri, da.user_code);

  step('tokens');
  const answered = await polling;
  if (!answered.tokens) throw new Error(`the device got ${answered.error}`);
  const { tokens } = answered;
  const claims = oauth.getValidatedIdTokenClaims(tokens);
  const { payload, protectedHeader } = await jose.jwtVerify(tokens.id_token, jwks, {
    issuer: spec.issuer, audience: spec.client_id,
  });

  step('refresh');
  const refreshed = await oauth.processRefreshTokenResponse(as, client,
    await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token, insecure));

  step('replay');
  let replay = null;
  try {
    await poll(as, client, da.device_code);
    replay = 'tokens';
  } catch (e) {
    replay = oauthError(e);
  }
  let refreshAfterReplay = null;
  try {
    await oauth.processRefreshTokenResponse(as, client,
      await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshed.refresh_token, insecure));
    refreshAfterReplay = 'tokens';
  } catch (e) {
    refreshAfterReplay = oauthError(e);
  }

  return {
    discovery: {
      device_authorization_endpoint: as.device_authorization_endpoint,
      grant_types_supported: as.grant_types_supported,
    },
    device_authorization: {
      user_code: da.user_code,
      verification_uri: da.verification_uri,
      verification_uri_complete: da.verification_uri_complete,
      expires_in: da.expires_in,
      interval: da.interval,
    },
    early_polls: early,
    polls: answered.seen,
    final_interval: answered.interval,
    browser,
    token_type: tokens.token_type,
    scope: tokens.scope,
    id_token_header: protectedHeader,
    id_token_claims: claims,
    id_token_verified_sub: payload.sub,
    refresh_rotated: Boolean(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token),
    replay,
    refresh_after_replay: refreshAfterReplay,
    secrets: {
      device_code: da.device_code,
      access_token: [tokens.access_token, refreshed.access_token],
      refresh_token: [tokens.refresh_token, refreshed.refresh_token],
      id_token: [tokens.id_token, refreshed.id_token ?? null],
    },
  };
}

const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-device-chromium-'));
let out;
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  // Chromium reports a CSP refusal only on the console (a missing favicon is no concern here).
  const cspErrors = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push({ url: page.url(), text: m.text() });
  });
  try {
    out = await run(page);
    out.csp_errors = cspErrors;
  } catch (e) {
    out = {
      failure: String(e.stack ?? e),
      error: e.error ?? null,
      error_description: e.error_description ?? null,
      steps,
      page_url: page.url(),
      page_error: await page.$('#error').then((el) => (el ? el.textContent() : null)).catch(() => null),
      csp_errors: cspErrors,
    };
  }
} catch (e) {
  out = { failure: String(e.stack ?? e), steps };
} finally {
  await context?.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
