#!/usr/bin/env node
// npm oidc-provider as the client-credentials peer of scripts/bench-peers: one confidential
// client (client_secret_basic) with the client_credentials grant, whose tokens are EdDSA JWT
// access tokens for one resource server, as Portcullis's are. In-memory adapter, no logging,
// no control API. Loopback only.
//
// Usage: node bench_peer.mjs [--port 0] [--client-id bench-service] [--client-secret ...]
// On start it prints one JSON line: {"event":"ready","issuer","port","token_endpoint"}.

import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'client-id': { type: 'string', default: 'bench-service' },
    'client-secret': { type: 'string', default: 'bench-service-secret-0123456789abcdef' },
  },
  strict: true,
});

const RESOURCE = 'urn:bench:api';
const key = {
  ...crypto.generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }),
  kid: 'bench-ed25519',
  alg: 'EdDSA',
  use: 'sig',
};

const server = (await import('node:http')).createServer();
await new Promise((resolve) => server.listen(Number(args.port), '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: args['client-id'],
    client_secret: args['client-secret'],
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    id_token_signed_response_alg: 'EdDSA',
  }],
  jwks: { keys: [key] },
  scopes: ['api'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { scope: 'api', audience: RESOURCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'EdDSA' } } };
      },
    },
  },
  enabledJWA: { idTokenSigningAlgValues: ['EdDSA'] },
  ttl: { ClientCredentials: 3600 },
});
provider.proxy = false;
server.on('request', provider.callback());

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdout.write(`${JSON.stringify({
  event: 'ready', issuer, port, token_endpoint: `${issuer}/token`,
})}\n`);
