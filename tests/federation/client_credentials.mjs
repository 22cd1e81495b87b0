// A service client on npm `oauth4webapi`: the client credentials grant against Portcullis with
// client_secret_basic, then what a resource server does with the token (validate the JWT access
// token against the JWKS, RFC 9068; introspect it, RFC 7662), then revocation (RFC 7009).
//
// Reads one JSON spec on stdin: {issuer, client_id, client_secret, scope, wider_scope,
// resource: {client_id, client_secret}}; prints one JSON summary on stdout.
import * as oauth from 'oauth4webapi';

const insecure = { [oauth.allowInsecureRequests]: true };

async function readStdin() {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  return JSON.parse(text);
}

/** The OAuth error a failed grant answered, or the message of anything else. */
function errorOf(e) {
  if (e instanceof oauth.ResponseBodyError) return { error: e.error, status: e.status };
  return { error: String(e?.message ?? e) };
}

const spec = await readStdin();
const issuer = new URL(spec.issuer);
const as = await oauth.processDiscoveryResponse(
  issuer,
  await oauth.discoveryRequest(issuer, { algorithm: 'oidc', ...insecure }),
);
const client = { client_id: spec.client_id };
const auth = oauth.ClientSecretBasic(spec.client_secret);

const grant = async (scope) => {
  const params = new URLSearchParams();
  if (scope) params.set('scope', scope);
  const response = await oauth.clientCredentialsGrantRequest(as, client, auth, params, insecure);
  return oauth.processClientCredentialsResponse(as, client, response);
};

const summary = { grant_types_supported: as.grant_types_supported };
const tokens = await grant(spec.scope);
summary.token = {
  token_type: tokens.token_type,
  scope: tokens.scope,
  expires_in: tokens.expires_in,
  has_refresh_token: 'refresh_token' in tokens,
  has_id_token: 'id_token' in tokens,
};

// A resource server: the token as RFC 9068 describes it, verified with the provider's JWKS.
const request = new Request('https://api.example.test/jobs', {
  headers: { authorization: `Bearer ${tokens.access_token}` },
});
const claims = await oauth.validateJwtAccessToken(as, request, spec.client_id, {
  signingAlgorithms: ['EdDSA'],
  ...insecure,
});
summary.claims = {
  sub: claims.sub, client_id: claims.client_id, aud: claims.aud, org: claims.org, scope: claims.scope,
};

const introspect = async (who, whoAuth, token) => {
  const response = await oauth.introspectionRequest(as, who, whoAuth, token, insecure);
  return oauth.processIntrospectionResponse(as, who, response);
};
const resource = { client_id: spec.resource.client_id };
const resourceAuth = oauth.ClientSecretBasic(spec.resource.client_secret);
summary.introspection = await introspect(resource, resourceAuth, tokens.access_token);

try {
  await grant(spec.wider_scope);
  summary.wider = { error: null };
} catch (e) {
  summary.wider = errorOf(e);
}

const revoked = await oauth.revocationRequest(as, client, auth, tokens.access_token, insecure);
await oauth.processRevocationResponse(revoked);
summary.after_revocation = await introspect(resource, resourceAuth, tokens.access_token);
const again = await grant(spec.scope);
summary.new_token_after_revocation = await introspect(resource, resourceAuth, again.access_token);

process.stdout.write(JSON.stringify(summary) + '\n');
