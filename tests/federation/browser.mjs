#!/usr/bin/env node
// Drives Debian's headless Chromium (/usr/bin/chromium) with playwright-core through Portcullis'
// browser pages, for tests/compat/test_browser_sso.py. One JSON argument in, one JSON line out.
//
//   node browser.mjs '{"mode":"sso","start_url":"http://127.0.0.1:P/login/sso/start?t=…",
//                      "login":"sub","password":"pw"}'
//   node browser.mjs '{"mode":"password","login_url":"http://127.0.0.1:P/login",
//                      "email":"…","password":"…"}'
//   node browser.mjs '{"mode":"enrol","login_url":…,"email":…,"password":…}': the sign-in of an
//     account that must enrol a second factor. Prints {"event":"setup","uri","qr"} once the
//     enrolment page shows, reads the code to type as one line on stdin, then shows the recovery
//     codes page, clicks Continue and reports the landing page (plus recovery_codes).
//
// Output: {final_url, title, token, error, js_cookies, local_storage, replay_error?, provider_error?}
// Never run `npx playwright install`: the system Chromium is used.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

import { chromium } from 'playwright-core';

const spec = JSON.parse(process.argv[2] ?? '{}');
const executablePath = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-chromium-'));

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});

async function text(page, sel) {
  const el = await page.$(sel);
  return el ? (await el.textContent()).trim() : null;
}

async function outcome(page) {
  return {
    final_url: page.url(),
    title: await page.title(),
    token: await page.$('#session-token').then((e) => (e ? e.inputValue() : null)),
    error: await text(page, '#error'),
    // Evaluated over CDP (not subject to the page's CSP): what page script could read.
    js_cookies: await page.evaluate(() => document.cookie),
    local_storage: await page.evaluate(() => localStorage.length + sessionStorage.length),
  };
}

let out;
try {
  const page = await context.newPage();
  page.setDefaultTimeout(20000);
  if (spec.mode === 'sso') {
    await page.goto(spec.start_url);
    await page.waitForSelector('#login');
    await page.fill('#login', spec.login);
    await page.fill('#password', spec.password);
    await Promise.all([page.waitForNavigation(), page.click('#provider-submit')]);
    await page.waitForSelector('#session-token, #error, #provider-error');
    out = { ...(await outcome(page)), provider_error: await text(page, '#provider-error') };
    if (spec.replay) {
      await page.goto(spec.start_url);
      out.replay_error = await text(page, '#error');
    }
  } else if (spec.mode === 'password') {
    await page.goto(spec.login_url);
    await page.fill('#email', spec.email);
    await page.fill('#password', spec.password);
    await Promise.all([page.waitForNavigation(), page.click('#submit')]);
    out = await outcome(page);
  } else if (spec.mode === 'enrol') {
    await page.goto(spec.login_url);
    await page.fill('#email', spec.email);
    await page.fill('#password', spec.password);
    await Promise.all([page.waitForNavigation(), page.click('#submit')]);
    await page.waitForSelector('#secret');
    // The QR code is inline SVG: rendered under the page's CSP, with a size.
    const box = await page.$('#qr svg').then((e) => (e ? e.boundingBox() : null));
    const uri = await text(page, '#otpauth-uri');
    process.stdout.write(`${JSON.stringify({ event: 'setup', uri, qr: box })}\n`);
    const code = await new Promise((resolve) => {
      readline.createInterface({ input: process.stdin }).once('line', resolve);
    });
    await page.fill('#code', code.trim());
    await Promise.all([page.waitForNavigation(), page.click('#submit')]);
    await page.waitForSelector('#recovery-codes');
    const codes = await page.$$eval('#recovery-codes code', (els) => els.map((e) => e.textContent));
    await Promise.all([page.waitForNavigation(), page.click('#continue')]);
    out = { ...(await outcome(page)), recovery_codes: codes };
  } else {
    throw new Error(`unknown mode ${spec.mode}`);
  }
} catch (e) {
  out = { failure: String(e.stack ?? e) };
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(out)}\n`);
