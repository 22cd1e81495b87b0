#!/usr/bin/env node
// Passkeys through Portcullis' real pages in Debian's headless Chromium (playwright-core), with
// the Chrome DevTools Protocol's virtual authenticator (CTAP2, internal transport, resident keys,
// user verification), for tests/compat/test_passkeys_browser.py. The pages' own script
// (/assets/webauthn.js) runs the ceremonies under the pages' CSP.
//
//   node passkeys.mjs '{"base":"http://localhost:P","email":"…","password":"…"}'
//
// Steps: sign in with the password on /login?r=/account/security; add a passkey named "Laptop"
// (its recovery codes are shown); sign out; sign in with only the passkey on /login (landing
// page token); sign in with the password and answer the second step with the passkey (landing
// page token). Prints one JSON line: {recovery_codes, credentials, passwordless_token,
// second_step_token, second_step_page, csp_errors, script_errors, failure?}.
// Never run `npx playwright install`: the system Chromium is used.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { chromium } from 'playwright-core';

const spec = JSON.parse(process.argv[2] ?? '{}');
const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-passkeys-'));
const url = (p) => new URL(p, spec.base).href;

const out = { csp_errors: [], script_errors: [] };
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
  context.setDefaultTimeout(20000);
  const page = context.pages()[0] ?? await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) out.csp_errors.push({ url: page.url(), text: m.text() });
  });
  page.on('pageerror', (e) => out.script_errors.push(String(e)));

  // The virtual authenticator: a platform passkey that verifies its user (as a biometric would).
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  const submit = async (selector) => {
    await Promise.all([page.waitForNavigation(), page.click(selector)]);
  };

  // Password sign-in, back at the security page.
  await page.goto(url('/login?r=/account/security'));
  await page.fill('#email', spec.email);
  await page.fill('#password', spec.password);
  await submit('#submit');
  await page.waitForSelector('#add-passkey');

  // "Add a passkey" with a name, then "Create passkey" runs navigator.credentials.create.
  await page.fill('#passkey-name', 'Laptop');
  await submit('#add-passkey');
  await page.waitForSelector('#create-passkey');
  await submit('#create-passkey');
  await page.waitForSelector('#recovery-codes');
  out.recovery_codes = await page.$$eval('#recovery-codes code', (els) => els.map((e) => e.textContent));
  const creds = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  out.credentials = creds.credentials.map((c) => ({ resident: c.isResidentCredential, rp: c.rpId, sign_count: c.signCount }));
  await page.goto(url('/account/security'));
  out.factors = await page.$$eval('#factors strong', (els) => els.map((e) => e.textContent));

  // Sign out (the provider's end-session page asks first).
  await page.goto(url('/oauth2/logout'));
  await submit('#sign-out');
  await page.waitForSelector('#signed-out');

  // Passwordless: the passkey alone (a discoverable credential names the user).
  await page.goto(url('/login'));
  await page.waitForSelector('#passkey-submit', { state: 'visible' });
  await submit('#passkey-submit');
  await page.waitForSelector('#session-token, #passkey-error:not([hidden]), #error');
  out.passwordless_error = await page.$eval('#passkey-error', (e) => e.textContent).catch(() => null);
  out.passwordless_token = await page.$('#session-token').then((e) => (e ? e.inputValue() : null));

  // The password, then "Use a passkey" as the second step.
  await page.goto(url('/login'));
  await page.fill('#email', spec.email);
  await page.fill('#password', spec.password);
  await submit('#submit');
  await page.waitForSelector('#passkey-submit', { state: 'visible' });
  out.second_step_page = { title: await page.title(), has_code_field: !!(await page.$('#code')) };
  await submit('#passkey-submit');
  await page.waitForSelector('#session-token, #passkey-error:not([hidden]), #error');
  out.second_step_token = await page.$('#session-token').then((e) => (e ? e.inputValue() : null));
  const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  out.sign_count = after.credentials[0]?.signCount;
} catch (e) {
  out.failure = String(e?.stack ?? e);
} finally {
  await context?.close().catch(() => {});
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
