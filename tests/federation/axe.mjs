#!/usr/bin/env node
// Every Portcullis page in headless Debian Chromium (playwright-core), checked with npm `axe-core`
// at desktop and phone widths, in light and dark mode, for tests/compat/test_pages_accessibility.py
// and scripts/screenshots (docs/design/pages.md).
//
// Reads one JSON line on stdin: {base, email, password, client_id, enrol_email, screenshots?: DIR}.
// The user must be a member of two orgs (so the org page shows) and the client a third-party
// (consent) client registered with the loopback redirect URI http://127.0.0.1/cb (any port, RFC 8252
// §7.3); `enrol_email` is a user whose org requires a second factor they do not have yet. `base`
// is http://localhost:PORT (a secure context: the passkey pages work, with the Chrome DevTools
// Protocol's virtual authenticator standing in for a platform authenticator).
//
// Pages: sign-in, sign-in with an error, sign-in for an application, org choice, consent, the
// account pages (sessions, connected apps, password, password with errors, sign-in factors:
// list, passkey creation, recovery codes, re-authentication with a passkey, TOTP setup, wrong
// code, removal), sign-out confirmation, signed out, the enrolment a policy requires at sign-in,
// the second step with a passkey, an authorization error, a sign-in failure, the landing page.
// For each page and each of 4 views: axe (WCAG 2.x A/AA rules and best practices), the page's
// CSP refusals on the console, and whether the stylesheet applied. Prints one JSON line
// {pages: [{name, views: [{view, violations: [{id, impact, help, nodes}]}]}], csp_errors,
// unstyled, failure?} and exits 0; the test decides.
//
// The page's CSP is kept (no bypassCSP): axe is evaluated over CDP, which the CSP does not govern.
// Never run `npx playwright install`: the system Chromium is used.

import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { createHmac } from 'node:crypto';
import { createRequire } from 'node:module';

import { chromium } from 'playwright-core';

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const VIEWS = [
  { name: 'desktop-light', width: 1280, height: 860, scheme: 'light' },
  { name: 'desktop-dark', width: 1280, height: 860, scheme: 'dark' },
  { name: 'phone-light', width: 390, height: 844, scheme: 'light' },
  { name: 'phone-dark', width: 390, height: 844, scheme: 'dark' },
];
const STEP_TIMEOUT_MS = 15000;

const spec = JSON.parse(await new Promise((resolve) => {
  readline.createInterface({ input: process.stdin }).once('line', resolve);
}));

// The client's redirect URI: a loopback listener that answers a small page.
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end('<!doctype html><html lang="en"><title>app</title><main><p id="app">back at the app</p></main></html>');
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const redirectUri = `http://127.0.0.1:${server.address().port}/cb`;

const results = [];
const cspErrors = [];
const unstyled = [];
const steps = [];

async function check(page, name) {
  steps.push(name);
  const views = [];
  for (const view of VIEWS) {
    await page.setViewportSize({ width: view.width, height: view.height });
    await page.emulateMedia({ colorScheme: view.scheme });
    // The stylesheet applied: the body has the page background of the scheme, not the default.
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const expected = view.scheme === 'dark' ? 'rgb(18, 20, 25)' : 'rgb(243, 244, 247)';
    if (bg !== expected) unstyled.push({ page: name, view: view.name, background: bg });
    await page.evaluate(AXE_SOURCE);
    const r = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] },
      resultTypes: ['violations'],
    }));
    views.push({
      view: view.name,
      violations: r.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target, summary: n.failureSummary })),
      })),
    });
    if (spec.screenshots && (view.scheme === 'light' || name === 'sign-in' || name === 'account-sessions')) {
      const kind = view.name.startsWith('phone') ? 'phone' : 'desktop';
      const suffix = view.scheme === 'dark' ? '-dark' : '';
      await page.screenshot({ path: path.join(spec.screenshots, `${name}-${kind}${suffix}.png`), fullPage: true });
    }
  }
  results.push({ name, url: page.url(), views });
  // Back to the default view for the next step's interactions.
  await page.setViewportSize({ width: 1280, height: 860 });
  await page.emulateMedia({ colorScheme: 'light' });
}

/** The RFC 6238 code (SHA-1, 6 digits, 30 s) of a base32 key, as an authenticator app shows it. */
function totpCode(base32) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of base32.replace(/=+$/, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1000000).padStart(6, '0');
}

async function submit(page, selector) {
  await Promise.all([page.waitForNavigation({ timeout: STEP_TIMEOUT_MS }), page.click(selector)]);
}

function authorizeUrl() {
  const u = new URL('/oauth2/authorize', spec.base);
  u.search = new URLSearchParams({
    client_id: spec.client_id, redirect_uri: redirectUri, response_type: 'code',
    scope: 'openid profile email', state: 'axe-state', nonce: 'axe-nonce',
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256',
  }).toString();
  return u.href;
}

const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-axe-chromium-'));
let failure = null;
let context;
try {
  if (spec.screenshots) fs.mkdirSync(spec.screenshots, { recursive: true });
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 860 },
  });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspErrors.push({ url: page.url(), text: m.text() });
  });
  // A platform authenticator with user verification, for the passkey pages.
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  // The plain sign-in page, then a wrong password (the error next to the field).
  await page.goto(new URL('/login', spec.base).href);
  await check(page, 'sign-in');
  await page.fill('#email', spec.email);
  await page.fill('#password', 'not the password');
  await submit(page, '#submit');
  await check(page, 'sign-in-error');

  // A sign-in failure page (a start link that was never issued).
  await page.goto(new URL('/login/sso/start?t=never-issued', spec.base).href);
  await check(page, 'sign-in-failed');

  // An authorization error page (unknown application).
  await page.goto(new URL('/oauth2/authorize?client_id=nobody', spec.base).href);
  await check(page, 'error');

  // An application's sign-in: the sign-in page with its pending request, org choice, consent.
  await page.goto(authorizeUrl());
  await page.waitForSelector('#email');
  await check(page, 'sign-in-for-app');
  await page.fill('#email', spec.email);
  await page.fill('#password', spec.password);
  await submit(page, '#submit');
  await page.waitForSelector('form.org-choice');
  await check(page, 'org-choice');
  await submit(page, 'form.org-choice button');
  await page.waitForSelector('#allow');
  await check(page, 'consent');
  await submit(page, '#allow');
  await page.waitForSelector('#app');

  // The account pages of this browser's sign-in.
  await page.goto(new URL('/account', spec.base).href);
  await page.waitForSelector('#sessions');
  await check(page, 'account-sessions');
  await page.goto(new URL('/account/apps', spec.base).href);
  await page.waitForSelector('#apps');
  await check(page, 'account-apps');
  await page.goto(new URL('/account/password', spec.base).href);
  await check(page, 'account-password');
  await page.fill('#current_password', spec.password);
  await page.fill('#new_password', 'a new password');
  await page.fill('#confirm_password', 'another new password');
  await submit(page, '#change-password');
  await check(page, 'account-password-error');

  // Sign-in factors: the list, a passkey (its creation page, the first factor's recovery codes),
  // then an authenticator app, which needs a re-authentication (with the passkey), its setup (QR
  // code) and a wrong code, and last the removal's confirm form.
  await page.goto(new URL('/account/security', spec.base).href);
  await page.waitForSelector('#enrolment-options');
  await check(page, 'account-security');
  await page.fill('#passkey-name', 'Laptop');
  await submit(page, '#add-passkey');
  await page.waitForSelector('#create-passkey');
  await check(page, 'account-security-passkey');
  await submit(page, '#create-passkey');
  await page.waitForSelector('#recovery-codes');
  await check(page, 'account-security-codes');
  await page.goto(new URL('/account/security', spec.base).href);
  await submit(page, '#add-totp');
  await page.waitForSelector('#passkey-submit', { state: 'visible' });
  await check(page, 'account-security-reauth');
  await submit(page, '#passkey-submit');
  await page.waitForSelector('#qr svg');
  await check(page, 'account-security-totp');
  const secret = (await page.textContent('#secret')).trim();
  await page.fill('#code', '000000');
  await submit(page, '#confirm');
  await page.waitForSelector('#code-error');
  await check(page, 'account-security-totp-error');
  await page.fill('#code', totpCode(secret));
  await submit(page, '#confirm');
  await page.waitForSelector('#done');
  await submit(page, '#factors li:last-child form button');
  await page.waitForSelector('#confirm-remove');
  await check(page, 'account-security-remove');
  await submit(page, '#confirm-remove');
  await page.waitForSelector('#done');

  // Sign-out confirmation and the signed-out page.
  await page.goto(new URL('/oauth2/logout', spec.base).href);
  await page.waitForSelector('#sign-out');
  await check(page, 'sign-out');
  await submit(page, '#sign-out');
  await page.waitForSelector('#signed-out');
  await check(page, 'signed-out');

  // A visitor without a sign-in is sent to the sign-in page, which returns to /account.
  await page.goto(new URL('/account', spec.base).href);
  await page.waitForSelector('#email');
  if (!page.url().includes('/login?r=/account')) throw new Error(`not sent to sign in: ${page.url()}`);

  // The enrolment a policy requires at sign-in (an account without a factor yet).
  await page.goto(new URL('/login', spec.base).href);
  await page.fill('#email', spec.enrol_email);
  await page.fill('#password', spec.password);
  await submit(page, '#submit');
  await page.waitForSelector('#qr svg');
  await check(page, 'sign-in-enrol');

  // The second step (the passkey), then the landing page of the sign-in (the SSO landing page is
  // the same page).
  await page.goto(new URL('/login', spec.base).href);
  await page.fill('#email', spec.email);
  await page.fill('#password', spec.password);
  await submit(page, '#submit');
  await page.waitForSelector('#passkey-submit', { state: 'visible' });
  await check(page, 'sign-in-second-step');
  await submit(page, '#passkey-submit');
  await page.waitForSelector('#session-token');
  await check(page, 'signed-in');
} catch (e) {
  failure = String(e?.stack ?? e);
} finally {
  await context?.close().catch(() => {});
  server.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}

process.stdout.write(`${JSON.stringify({ pages: results, csp_errors: cspErrors, unstyled, steps, failure })}\n`);
