#!/usr/bin/env node
// A real OpenID Connect relying party on npm `openid-client` (v6), signing a user in to Portcullis
// through headless Debian Chromium (playwright-core), for tests/compat/test_oidc_relying_party.py.
//
// 1. Listens on 127.0.0.1:<kernel port> (its redirect, post-logout and back-channel URIs) and
//    prints {"event":"ready","port","redirect_uri","post_logout_redirect_uri","backchannel_logout_uri"}.
// 2. Reads one JSON line on stdin: {issuer, client_id, client_secret?, auth: "client_secret_basic"|
//    "none", id_token_alg?, scope, email, password, consent?: true, logout_without_hint?: true,
//    upstream?: {login, password}, totp_code?, acr_values?} (upstream: no Portcullis password; the
//    user signs in at the provider.mjs of their domain instead; totp_code: typed on the second-step
//    page after the password; acr_values: sent with the authorization request).
// 3. Discovery; authorization URL with PKCE S256, state and nonce; the browser signs in on the
//    real /login page (and allows on the consent page when asked); code grant (openid-client checks
//    the ID token's signature against the JWKS, iss, aud, nonce, the response's iss and state);
//    userinfo; refresh; RP-initiated logout in the browser (with id_token_hint, or confirmed on the
//    provider's page without one); the back-channel logout token, verified with jose against the
//    JWKS; the refresh token refused afterwards.
// 4. Prints one JSON line: the summary (or {failure, steps}) and exits.
//
// Never run `npx playwright install`: the system Chromium is used.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import * as jose from 'jose';
import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const STEP_TIMEOUT_MS = 15000;

// ---- the relying party's own HTTP server ---------------------------------------------------------

/** A promise per path, resolved by the first request to it. */
function arrivals() {
  const waiting = new Map();
  const got = new Map();
  return {
    arrived(key, value) {
      got.set(key, value);
      waiting.get(key)?.(value);
    },
    next(key, ms = STEP_TIMEOUT_MS) {
      if (got.has(key)) return Promise.resolve(got.get(key));
      const p = new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`nothing arrived at ${key} within ${ms} ms`)), ms);
        waiting.set(key, (v) => { clearTimeout(timer); resolve(v); });
      });
      // A step that fails before awaiting this one must not end the process unreported.
      p.catch(() => {});
      return p;
    },
  };
}

const inbox = arrivals();
let verifyLogoutToken = async () => { throw new Error('not configured yet'); };

const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  if (req.method === 'GET' && (url.pathname === '/callback' || url.pathname === '/logged-out')) {
    inbox.arrived(url.pathname, `http://127.0.0.1:${port}${req.url}`);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>rp</title><p id="rp">${url.pathname}</p>`);
    return;
  }
  if (req.method === 'POST' && url.pathname === '/backchannel') {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      const form = new URLSearchParams(body);
      const arrival = {
        content_type: req.headers['content-type'] ?? null,
        logout_token: form.get('logout_token'),
      };
      try {
        arrival.verified = await verifyLogoutToken(arrival.logout_token);
        res.writeHead(200, { 'cache-control': 'no-store' }).end();
      } catch (e) {
        // Back-Channel Logout §2.8: a token that does not validate is a 400.
        arrival.error = String(e.message ?? e);
        res.writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: 'invalid_request' }));
      }
      inbox.arrived('/backchannel', arrival);
    });
    return;
  }
  res.writeHead(404).end();
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const base = `http://127.0.0.1:${port}`;
const redirectUri = `${base}/callback`;
const postLogoutRedirectUri = `${base}/logged-out`;
process.stdout.write(`${JSON.stringify({
  event: 'ready', port, redirect_uri: redirectUri, post_logout_redirect_uri: postLogoutRedirectUri,
  backchannel_logout_uri: `${base}/backchannel`,
})}\n`);

const spec = JSON.parse(await new Promise((resolve) => {
  readline.createInterface({ input: process.stdin }).once('line', resolve);
}));

// ---- the flow ------------------------------------------------------------------------------------

const steps = [];
function step(name) { steps.push(name); }

/** An OAuth error response's `error` (openid-client throws ResponseBodyError), else rethrow. */
async function oauthError(promise) {
  try {
    await promise;
    return null;
  } catch (e) {
    if (e instanceof oidc.ResponseBodyError) return e.error;
    throw e;
  }
}

async function signIn(page, authorizationUrl) {
  await page.goto(authorizationUrl.href);
  await page.waitForSelector('#email');
  const signInUrl = new URL(page.url());
  await page.fill('#email', spec.email);
  const callback = inbox.next('/callback');
  let upstreamPath = null;
  if (spec.upstream) {
    // No password: the user's domain signs in at its own provider (tests/federation/provider.mjs).
    await page.click('#submit');
    await page.waitForSelector('#login');
    upstreamPath = new URL(page.url()).origin === new URL(spec.issuer).origin ? null : new URL(page.url()).pathname;
    await page.fill('#login', spec.upstream.login);
    await page.fill('#password', spec.upstream.password);
    await page.click('#provider-submit');
  } else {
    await page.fill('#password', spec.password);
    await page.click('#submit');
  }
  let secondStepShown = false;
  if (spec.totp_code) {
    await page.waitForSelector('#code');
    secondStepShown = true;
    await page.fill('#code', spec.totp_code);
    await page.click('#submit');
  }
  let consentShown = false;
  if (spec.consent) {
    await page.waitForSelector('#allow');
    consentShown = true;
    await page.click('#allow');
  }
  const callbackUrl = await callback;
  return {
    signInPath: signInUrl.pathname, signInHasPending: signInUrl.searchParams.has('r'), consentShown,
    callbackUrl, upstreamPath, secondStepShown,
  };
}

async function run(page) {
  const issuer = new URL(spec.issuer);
  const clientAuth = spec.auth === 'none' ? oidc.None() : oidc.ClientSecretBasic(spec.client_secret);
  const metadata = spec.id_token_alg ? { id_token_signed_response_alg: spec.id_token_alg } : {};
  step('discovery');
  const config = await oidc.discovery(issuer, spec.client_id, metadata, clientAuth,
    { execute: [oidc.allowInsecureRequests] });
  const as = config.serverMetadata();
  const jwks = jose.createRemoteJWKSet(new URL(as.jwks_uri));

  step('authorize');
  const codeVerifier = oidc.randomPKCECodeVerifier();
  const codeChallenge = await oidc.calculatePKCECodeChallenge(codeVerifier);
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const authorizationUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope: spec.scope, code_challenge: codeChallenge,
    code_challenge_method: 'S256', state, nonce,
    ...(spec.acr_values ? { acr_values: spec.acr_values } : {}),
  });
  step('browser sign-in');
  const signIn_ = await signIn(page, authorizationUrl);
  const callback = new URL(signIn_.callbackUrl);

  step('code grant');
  const tokens = await oidc.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: codeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true,
  });
  const idClaims = tokens.claims();
  const idHeader = jose.decodeProtectedHeader(tokens.id_token);

  step('userinfo');
  const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);

  step('refresh');
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token);
  const refreshedClaims = refreshed.claims() ?? null;
  const introspected = await oidc.tokenIntrospection(config, refreshed.access_token);

  step('rp-initiated logout');
  // The back-channel token names the browser sign-in; verify it as an RP must (§2.6).
  verifyLogoutToken = async (token) => {
    const alg = spec.id_token_alg ?? 'RS256';
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
      issuer: as.issuer, audience: spec.client_id, algorithms: [alg], typ: 'logout+jwt',
      requiredClaims: ['iat', 'jti', 'events'],
    });
    if (!payload.events || typeof payload.events[BACKCHANNEL_EVENT] !== 'object') {
      throw new Error(`events lacks ${BACKCHANNEL_EVENT}`);
    }
    if ('nonce' in payload) throw new Error('a logout token must not carry a nonce');
    if (!payload.sid && !payload.sub) throw new Error('neither sid nor sub');
    return { header: protectedHeader, claims: payload };
  };
  const logoutState = oidc.randomState();
  // With the hint the provider signs out at once; without it the user confirms on a page.
  const endSessionUrl = oidc.buildEndSessionUrl(config, {
    ...(spec.logout_without_hint ? {} : { id_token_hint: refreshed.id_token ?? tokens.id_token }),
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: logoutState,
  });
  const loggedOut = inbox.next('/logged-out');
  const backchannel = inbox.next('/backchannel');
  await page.goto(endSessionUrl.href);
  let logoutConfirmShown = false;
  if (spec.logout_without_hint) {
    await page.waitForSelector('#sign-out');
    logoutConfirmShown = true;
    await page.click('#sign-out');
  }
  const loggedOutUrl = new URL(await loggedOut);
  step('back-channel logout');
  const notice = await backchannel;

  step('after logout');
  const refreshAfterLogout = await oauthError(oidc.refreshTokenGrant(config, refreshed.refresh_token));
  // The browser sign-in is over: a new authorization goes back to the sign-in page.
  await page.goto(authorizationUrl.href);
  await page.waitForSelector('#email');
  const signInAgainPath = new URL(page.url()).pathname;

  return {
    issuer: as.issuer,
    discovery: {
      code_challenge_methods_supported: as.code_challenge_methods_supported,
      end_session_endpoint: as.end_session_endpoint,
      backchannel_logout_supported: as.backchannel_logout_supported,
      authorization_response_iss_parameter_supported: as.authorization_response_iss_parameter_supported,
    },
    authorization_url: Object.fromEntries(authorizationUrl.searchParams),
    sign_in_path: signIn_.signInPath,
    sign_in_has_pending: signIn_.signInHasPending,
    upstream_path: signIn_.upstreamPath,
    consent_shown: signIn_.consentShown,
    second_step_shown: signIn_.secondStepShown,
    callback: Object.fromEntries([...callback.searchParams].filter(([k]) => k !== 'code')),
    nonce,
    token_type: tokens.token_type,
    scope: tokens.scope,
    expires_in: tokens.expiresIn() ?? null,
    id_token_header: idHeader,
    id_token_claims: idClaims,
    userinfo,
    refresh: {
      rotated: refreshed.refresh_token !== tokens.refresh_token,
      new_access_token: refreshed.access_token !== tokens.access_token,
      id_token_header: refreshed.id_token ? jose.decodeProtectedHeader(refreshed.id_token) : null,
      id_token_claims: refreshedClaims,
      introspection: introspected,
    },
    logout: {
      logged_out: Object.fromEntries(loggedOutUrl.searchParams),
      logged_out_path: loggedOutUrl.pathname,
      confirm_shown: logoutConfirmShown,
      state: logoutState,
      backchannel: { content_type: notice.content_type, error: notice.error ?? null, ...notice.verified },
      refresh_after_logout: refreshAfterLogout,
      sign_in_again_path: signInAgainPath,
    },
    // For the suite's log scan (harness/leakscan.py): what must never appear in a server log.
    secrets: {
      access_token: [tokens.access_token, refreshed.access_token],
      refresh_token: [tokens.refresh_token, refreshed.refresh_token],
      id_token: [tokens.id_token, refreshed.id_token ?? null],
      logout_token: notice.logout_token,
      code: callback.searchParams.get('code'),
    },
  };
}

const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-rp-chromium-'));
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
  // Chromium reports a CSP refusal (e.g. form-action on a redirect) only on the console.
  const console_ = [];
  page.on('console', (m) => { if (m.type() === 'error') console_.push(m.text()); });
  try {
    out = await run(page);
  } catch (e) {
    out = {
      failure: String(e.stack ?? e),
      error: e.error ?? null,
      error_description: e.error_description ?? null,
      cause: e.cause ? String(e.cause.message ?? e.cause) : null,
      steps,
      page_url: page.url(),
      page_error: await page.$('#error').then((el) => (el ? el.textContent() : null)).catch(() => null),
      console_errors: console_,
    };
  }
} catch (e) {
  out = { failure: String(e.stack ?? e), steps };
} finally {
  await context?.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
  server.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
process.exit(0);
