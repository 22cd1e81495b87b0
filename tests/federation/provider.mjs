#!/usr/bin/env node
// Test-only OpenID Connect provider for Portcullis federation tests.
//
// A real node-oidc-provider instance on loopback, plus a control API under /__test/ that lets a
// test obtain genuine provider-issued tokens for any account without a browser: the control API
// drives the provider's own authorization-code flow over HTTP (authorization request -> interaction
// -> login + consent -> resume -> code -> token endpoint), so every token is real provider output.
//
// NEVER expose this outside loopback: the control API logs anyone in as anyone.
//
// Usage:
//   node provider.mjs [--host 127.0.0.1] [--port 0] [--client-id portcullis-test]
//                     [--client-secret portcullis-test-secret] [--audience <client-id>]
//                     [--resource urn:portcullis:test-api] [--alg RS256|ES256]
//                     [--access-token-ttl 3600] [--id-token-ttl 3600] [--redirect-uri URL]
//                     [--public-client] [--other-client-id portcullis-other]
//                     [--other-client-secret portcullis-other-secret] [--web-redirect-uri URL ...]
// On start it prints one JSON line to stdout: {"event":"ready","issuer":...,"port":...,...}.
// It stops on SIGTERM/SIGINT, or on POST /__test/shutdown.
//
// Control API (JSON in, JSON out), see docs/design/testing.md:
//   GET  /__test/health
//   POST /__test/tokens       {sub, email?, email_verified?, name?, groups?, claims?, scope?,
//                              audience?, access_token_format?: "jwt"|"opaque",
//                              access_token_ttl?, id_token_ttl?, nonce?,
//                              client?: "main"|"other"}  (other: tokens minted for a second,
//                              confidential client; both clients may call introspection)
//   POST /__test/accounts     {sub, email?, email_verified?, name?, groups?, claims?}  (upsert)
//   POST /__test/rotate-keys  {keep_old?: false, alg?}
//   POST /__test/sign         {claims?, header?, alg?, key?: "current"|"foreign", ttl?}
//   POST /__test/shutdown
//   GET  /__test/callback     the registered redirect_uri (answers the code and state as JSON)
//
// Authorization requests the control API did not start (a real browser, with a redirect URI from
// --web-redirect-uri) get an interactive login form: login = the account's sub, password = the
// `password` given to POST /__test/accounts.

import crypto from 'node:crypto';
import http from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'client-id': { type: 'string', default: 'portcullis-test' },
    'client-secret': { type: 'string', default: 'portcullis-test-secret' },
    audience: { type: 'string' },
    resource: { type: 'string', default: 'urn:portcullis:test-api' },
    alg: { type: 'string', default: 'RS256' },
    'access-token-ttl': { type: 'string', default: '3600' },
    'id-token-ttl': { type: 'string', default: '3600' },
    'redirect-uri': { type: 'string' },
    'public-client': { type: 'boolean', default: false },
    'other-client-id': { type: 'string', default: 'portcullis-other' },
    'other-client-secret': { type: 'string', default: 'portcullis-other-secret' },
    'web-redirect-uri': { type: 'string', multiple: true, default: [] },
  },
  strict: true,
});

const HOST = args.host;
const CLIENT_ID = args['client-id'];
const CLIENT_SECRET = args['client-secret'];
const AUDIENCE = args.audience ?? CLIENT_ID;
const RESOURCE = args.resource;
// A resource indicator of this form selects an arbitrary audience for one token request.
const AUD_RESOURCE_PREFIX = 'urn:portcullis:aud:';
const DEFAULT_ACCESS_TTL = Number(args['access-token-ttl']);
const DEFAULT_ID_TTL = Number(args['id-token-ttl']);
const SUPPORTED_ALGS = new Set(['RS256', 'ES256']);
const PUBLIC_CLIENT = args['public-client'];
const OTHER_CLIENT_ID = args['other-client-id'];
const OTHER_CLIENT_SECRET = args['other-client-secret'];
const OIDC_SCOPE = 'openid email profile groups offline_access';
const RS_SCOPE = 'api';

if (!SUPPORTED_ALGS.has(args.alg)) {
  console.error(`unsupported --alg ${args.alg} (RS256 or ES256)`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// Keys

let keyCounter = 0;

// Node 20 can deadlock exporting a KeyObject that generateKeyPairSync returned: a GC inside
// export({format: 'jwk'}) runs the finished key-generation job's destructor, which locks the key
// mutex the export already holds (seen with gdb: ~KeyGenJob under ExportJWKRsaKey, main thread in
// futex wait forever, no ready line). So the job encodes the key itself (PKCS#8 DER, no KeyObject
// shares its mutex) and the JWK comes from a fresh KeyObject that no job owns.
const DER = { privateKeyEncoding: { type: 'pkcs8', format: 'der' }, publicKeyEncoding: { type: 'spki', format: 'der' } };

function generateKey(alg) {
  keyCounter += 1;
  const { privateKey: der } = alg === 'ES256'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256', ...DER })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048, ...DER });
  const jwk = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'jwk' });
  return { ...jwk, kid: `test-${alg.toLowerCase()}-${keyCounter}-${crypto.randomBytes(4).toString('hex')}`, alg, use: 'sig' };
}

function publicJwk(jwk) {
  const { d, p, q, dp, dq, qi, ...pub } = jwk; // eslint-disable-line no-unused-vars
  return pub;
}

let currentAlg = args.alg;
let signingKeys = [generateKey(currentAlg)]; // first = the one the provider signs with
const foreignKeys = {}; // alg -> key that is never published (generated on first use)

// ---------------------------------------------------------------------------------------------
// Accounts and per-account token lifetimes (set by /__test/tokens, read by findAccount and ttl)

const accounts = new Map(); // sub -> claims object
const ttlOverrides = new Map(); // sub -> { access, id }
const flows = new Map(); // state -> { sub }
const passwords = new Map(); // sub -> password, for the interactive (browser) login

function upsertAccount(body) {
  if (typeof body.sub !== 'string' || body.sub === '') {
    throw httpError(400, '"sub" (non-empty string) is required');
  }
  const prev = accounts.get(body.sub) ?? {};
  const claims = { ...prev, sub: body.sub };
  for (const k of ['email', 'email_verified', 'name', 'given_name', 'family_name', 'preferred_username', 'picture', 'groups']) {
    if (k in body) {
      if (body[k] === null) delete claims[k];
      else claims[k] = body[k];
    }
  }
  if (body.claims && typeof body.claims === 'object') {
    Object.assign(claims, body.claims);
  }
  if (typeof body.password === 'string') passwords.set(body.sub, body.password);
  if (claims.email !== undefined && claims.email_verified === undefined) claims.email_verified = true;
  accounts.set(body.sub, claims);
  return claims;
}

// ---------------------------------------------------------------------------------------------
// Provider

let issuer; // set once the port is known
let provider; // current instance; replaced on key rotation (the memory adapter's state is global)

function buildProvider() {
  const client = {
    client_id: CLIENT_ID,
    redirect_uris: [args['redirect-uri'] ?? `${issuer}/__test/callback`, ...args['web-redirect-uri']],
    post_logout_redirect_uris: [`${issuer}/__test/logged-out`],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: currentAlg,
    ...(PUBLIC_CLIENT
      ? { token_endpoint_auth_method: 'none' }
      : { client_secret: CLIENT_SECRET, token_endpoint_auth_method: 'client_secret_basic' }),
  };

  // A second, confidential client: tokens minted for it must not be accepted by Portcullis.
  const other = {
    client_id: OTHER_CLIENT_ID,
    client_secret: OTHER_CLIENT_SECRET,
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: client.redirect_uris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    id_token_signed_response_alg: currentAlg,
  };

  const p = new Provider(issuer, {
    clients: [client, other],
    jwks: { keys: signingKeys },
    cookies: { keys: ['portcullis-test-cookie-key'] },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', RS_SCOPE],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture'],
      groups: ['groups'],
    },
    conformIdTokenClaims: false, // put the scope's claims into the ID token of the code flow
    enabledJWA: {
      idTokenSigningAlgValues: ['RS256', 'ES256'],
      userinfoSigningAlgValues: ['RS256', 'ES256'],
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: true },
      userinfo: { enabled: true },
      revocation: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resourceIndicator) => {
          let audience;
          if (resourceIndicator === RESOURCE) audience = AUDIENCE;
          else if (resourceIndicator.startsWith(AUD_RESOURCE_PREFIX)) audience = resourceIndicator.slice(AUD_RESOURCE_PREFIX.length);
          else throw new Provider.errors.InvalidTarget();
          return {
            scope: RS_SCOPE,
            audience,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: currentAlg } },
          };
        },
      },
    },
    findAccount: async (ctx, sub) => {
      const claims = accounts.get(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ ...claims }) };
    },
    extraTokenClaims: async (ctx, token) => {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const claims = accounts.get(token.accountId);
      if (!claims) return undefined;
      const extra = {};
      for (const k of ['email', 'email_verified', 'name', 'groups']) {
        if (claims[k] !== undefined) extra[k] = claims[k];
      }
      return extra;
    },
    ttl: {
      AccessToken: (ctx, token) => ttlOverrides.get(token.accountId)?.access ?? DEFAULT_ACCESS_TTL,
      IdToken: (ctx) => ttlOverrides.get(ctx.oidc.account?.accountId)?.id ?? DEFAULT_ID_TTL,
      AuthorizationCode: 60,
      Grant: 14 * 24 * 3600,
      Interaction: 600,
      Session: 14 * 24 * 3600,
      RefreshToken: 14 * 24 * 3600,
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    renderError: async (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  p.proxy = false;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Helpers

function httpError(status, message) {
  const err = new Error(message);
  err.status = status;
  return err;
}

async function readJson(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const raw = Buffer.concat(chunks).toString('utf8').trim();
  if (raw === '') return {};
  try {
    const v = JSON.parse(raw);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v;
  } catch (e) {
    throw httpError(400, `request body must be a JSON object: ${e.message}`);
  }
}

function sendJson(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function decodeJwt(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  return {
    header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
  };
}

function signJwt(header, payload, jwk) {
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = header.alg === 'ES256'
    ? crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    : crypto.sign('sha256', Buffer.from(input), key);
  return `${input}.${b64url(sig)}`;
}

// Minimal cookie jar: names are unique across the provider's cookies, so paths are ignored.
class CookieJar {
  constructor() { this.cookies = new Map(); }

  store(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a) || /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

// ---------------------------------------------------------------------------------------------
// The token flow: a real authorization-code flow with PKCE, driven over HTTP against ourselves.

async function mintTokens(body) {
  const claims = upsertAccount(body);
  const sub = claims.sub;
  const ttl = {};
  if (body.access_token_ttl !== undefined) ttl.access = Number(body.access_token_ttl);
  if (body.id_token_ttl !== undefined) ttl.id = Number(body.id_token_ttl);
  if (Object.keys(ttl).length) ttlOverrides.set(sub, ttl);
  else ttlOverrides.delete(sub);

  const which = body.client ?? 'main';
  if (which !== 'main' && which !== 'other') throw httpError(400, 'client must be "main" or "other"');
  const useOther = which === 'other';
  const clientId = useOther ? OTHER_CLIENT_ID : CLIENT_ID;
  const clientSecret = useOther ? OTHER_CLIENT_SECRET : CLIENT_SECRET;
  const isPublic = PUBLIC_CLIENT && !useOther;

  const format = body.access_token_format ?? 'jwt';
  if (format !== 'jwt' && format !== 'opaque') throw httpError(400, 'access_token_format must be "jwt" or "opaque"');
  let resource;
  if (format === 'jwt') {
    resource = body.audience !== undefined && body.audience !== AUDIENCE
      ? `${AUD_RESOURCE_PREFIX}${body.audience}` : RESOURCE;
  }
  const scope = body.scope ?? (format === 'jwt' ? `${OIDC_SCOPE} ${RS_SCOPE}` : OIDC_SCOPE);

  const state = crypto.randomBytes(16).toString('hex');
  const nonce = body.nonce ?? crypto.randomBytes(16).toString('hex');
  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const redirectUri = args['redirect-uri'] ?? `${issuer}/__test/callback`;
  flows.set(state, { sub });

  const jar = new CookieJar();
  const step = async (url, init = {}) => {
    const res = await fetch(url, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers ?? {}), cookie: jar.header() },
    });
    jar.store(res);
    return res;
  };

  try {
    const authz = new URL(`${issuer}/auth`);
    authz.search = new URLSearchParams({
      client_id: clientId,
      response_type: 'code',
      scope,
      redirect_uri: redirectUri,
      state,
      nonce,
      prompt: 'consent',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      ...(resource ? { resource } : {}),
    }).toString();

    let res = await step(authz.href);
    let location;
    for (let hops = 0; ; hops += 1) {
      if (hops > 10) throw httpError(500, 'too many redirects in the authorization flow');
      if (res.status < 300 || res.status >= 400) {
        throw httpError(500, `authorization flow stopped at HTTP ${res.status}: ${await res.text()}`);
      }
      location = new URL(res.headers.get('location'), issuer).href;
      if (location.startsWith(redirectUri)) break;
      res = await step(location);
    }
    const cb = new URL(location).searchParams;
    if (cb.get('error')) throw httpError(500, `authorization error: ${cb.get('error')}: ${cb.get('error_description')}`);
    if (cb.get('state') !== state) throw httpError(500, 'state mismatch in the authorization response');

    const form = new URLSearchParams({
      grant_type: 'authorization_code',
      code: cb.get('code'),
      redirect_uri: redirectUri,
      code_verifier: verifier,
      ...(resource ? { resource } : {}),
      ...(isPublic ? { client_id: clientId } : {}),
    });
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    if (!isPublic) {
      headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
    }
    const tokenRes = await fetch(`${issuer}/token`, { method: 'POST', headers, body: form });
    const tokens = await tokenRes.json();
    if (!tokenRes.ok) throw httpError(500, `token endpoint answered ${tokenRes.status}: ${JSON.stringify(tokens)}`);

    const out = {
      id_token: tokens.id_token,
      access_token: tokens.access_token,
      token_type: tokens.token_type,
      expires_in: tokens.expires_in,
      scope: tokens.scope,
      nonce,
      id_token_claims: decodeJwt(tokens.id_token)?.payload,
    };
    if (tokens.refresh_token) out.refresh_token = tokens.refresh_token;
    if (format === 'jwt') out.access_token_claims = decodeJwt(tokens.access_token)?.payload;
    return out;
  } finally {
    flows.delete(state);
  }
}

// The interaction endpoint the provider redirects to: logs the flow's account in and grants
// everything requested, then sends the user agent back to the provider's resume URL.
async function handleInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  const flow = flows.get(details.params.state);
  if (!flow) return interactiveLogin(req, res, details);
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: flow.sub, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  if (details.params.resource) grant.addResourceScope(String(details.params.resource), RS_SCOPE);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, {
    login: { accountId: flow.sub, amr: ['pwd'], acr: 'urn:portcullis:test' },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

function escapeHtml(v) {
  return String(v).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function loginPage(res, uid, error) {
  const body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Test provider sign-in</title></head><body>
<h1>Test provider sign-in</h1>${error ? `<p id="provider-error">${escapeHtml(error)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}">
<label>Login <input id="login" name="login" autocomplete="username"></label>
<label>Password <input id="password" name="password" type="password"></label>
<button id="provider-submit" type="submit">Sign in</button></form></body></html>`;
  res.writeHead(error ? 401 : 200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}

// A real browser flow (an authorization request the control API did not start): a login form;
// the account (sub) and the password set with POST /__test/accounts {sub, password}. Consent is
// granted for everything requested.
async function interactiveLogin(req, res, details) {
  if (req.method === 'GET') return loginPage(res, details.uid);
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  const sub = form.get('login') ?? '';
  const pw = form.get('password') ?? '';
  if (!accounts.has(sub) || !passwords.has(sub) || passwords.get(sub) !== pw) {
    return loginPage(res, details.uid, 'Wrong login or password');
  }
  const grant = new provider.Grant({ accountId: sub, clientId: details.params.client_id });
  grant.addOIDCScope(String(details.params.scope));
  const grantId = await grant.save();
  return provider.interactionFinished(req, res, {
    login: { accountId: sub, amr: ['pwd'], acr: 'urn:portcullis:test' },
    consent: { grantId },
  }, { mergeWithLastSubmission: false });
}

function rotateKeys(body) {
  const alg = body.alg ?? currentAlg;
  if (!SUPPORTED_ALGS.has(alg)) throw httpError(400, 'alg must be RS256 or ES256');
  const fresh = generateKey(alg);
  const previous = signingKeys.map((k) => k.kid);
  signingKeys = body.keep_old ? [fresh, ...signingKeys] : [fresh];
  currentAlg = alg;
  provider = buildProvider();
  return {
    kid: fresh.kid,
    alg,
    previous_kids: previous,
    kids: signingKeys.map((k) => k.kid),
    jwks: { keys: signingKeys.map(publicJwk) },
  };
}

function signArbitrary(body) {
  const now = Math.floor(Date.now() / 1000);
  const alg = body.alg ?? currentAlg;
  if (!SUPPORTED_ALGS.has(alg)) throw httpError(400, 'alg must be RS256 or ES256');
  let jwk;
  if ((body.key ?? 'current') === 'foreign') {
    foreignKeys[alg] ??= generateKey(alg);
    jwk = foreignKeys[alg];
  }
  else {
    jwk = signingKeys.find((k) => k.alg === alg);
    if (!jwk) throw httpError(400, `no published key for ${alg}; rotate-keys with that alg first`);
  }
  const ttl = body.ttl ?? 3600;
  const payload = { iss: issuer, aud: AUDIENCE, iat: now, exp: now + ttl, jti: crypto.randomUUID(), ...(body.claims ?? {}) };
  for (const [k, v] of Object.entries(payload)) if (v === null) delete payload[k];
  const header = { alg, typ: 'JWT', kid: jwk.kid, ...(body.header ?? {}) };
  for (const [k, v] of Object.entries(header)) if (v === null) delete header[k];
  return { token: signJwt(header, payload, jwk), header, claims: payload };
}

// ---------------------------------------------------------------------------------------------
// HTTP server

let server;

async function control(req, res, path) {
  if (req.method === 'GET' && path === '/__test/health') {
    return sendJson(res, 200, {
      ok: true, issuer, client_id: CLIENT_ID, audience: AUDIENCE, resource: RESOURCE, alg: currentAlg,
      kids: signingKeys.map((k) => k.kid), accounts: accounts.size,
    });
  }
  if (req.method === 'GET' && path === '/__test/callback') {
    const q = new URL(req.url, issuer).searchParams;
    return sendJson(res, 200, Object.fromEntries(q));
  }
  if (req.method === 'GET' && path === '/__test/logged-out') {
    return sendJson(res, 200, { logged_out: true });
  }
  if (req.method !== 'POST') throw httpError(405, 'use POST');
  const body = await readJson(req);
  switch (path) {
    case '/__test/tokens': return sendJson(res, 200, await mintTokens(body));
    case '/__test/accounts': return sendJson(res, 200, upsertAccount(body));
    case '/__test/rotate-keys': return sendJson(res, 200, rotateKeys(body));
    case '/__test/sign': return sendJson(res, 200, signArbitrary(body));
    case '/__test/shutdown':
      sendJson(res, 200, { stopping: true });
      setImmediate(shutdown);
      return undefined;
    default: throw httpError(404, `unknown control path ${path}`);
  }
}

async function handle(req, res) {
  const path = new URL(req.url, 'http://x').pathname;
  try {
    if (path.startsWith('/__test/')) return await control(req, res, path);
    if (path.startsWith('/interaction/')) return await handleInteraction(req, res);
    return provider.callback()(req, res);
  } catch (e) {
    const status = e.status ?? 500;
    if (status >= 500) console.error(`[provider] ${req.method} ${path}: ${e.stack ?? e}`);
    if (!res.headersSent) sendJson(res, status, { error: e.message });
    else res.end();
    return undefined;
  }
}

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}

server = http.createServer((req, res) => { handle(req, res); });
server.keepAliveTimeout = 1000;
server.listen(Number(args.port), HOST, () => {
  const { port } = server.address();
  const hostPart = HOST.includes(':') ? `[${HOST}]` : HOST;
  issuer = `http://${hostPart}:${port}`;
  provider = buildProvider();
  process.stdout.write(`${JSON.stringify({
    event: 'ready', issuer, port, client_id: CLIENT_ID, audience: AUDIENCE, resource: RESOURCE, alg: currentAlg,
  })}\n`);
});

process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
