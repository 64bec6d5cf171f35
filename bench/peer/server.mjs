// The peer of bench/side-by-side.sh: panva's oidc-provider, configured to do the work Gatehouse
// does for the same requests (see BENCHMARKS.md, "Side by side with oidc-provider", for what differs).
//
//   PORT=18090 PEER_SECRET=... node bench/peer/server.mjs
//
// - signing keys: one ES256 (P-256) and one RSA-2048 key generated at start, as Gatehouse's
//   embedded default publishes an ES256 and an RS256 key; access and ID tokens are ES256;
// - clients (client_secret_basic, secret PEER_SECRET): `bench-cc` (client_credentials, scope
//   `read`; also the resource server that introspects) and `bench-web` (authorization code with
//   PKCE S256, refresh tokens, redirect URI http://127.0.0.1:9/cb);
// - access tokens: two resource servers (RFC 8707). `urn:bench:api`, the default resource, gets
//   ES256 JWT access tokens for 900 s (Gatehouse's default lifetime); `urn:bench:opaque` gets
//   opaque ones, because oidc-provider introspects only opaque tokens;
// - refresh tokens rotate on every use (single use), as Gatehouse's do;
// - sign-in: the user `ann` with an argon2id hash made at start with Gatehouse's default
//   parameters ([passwords]: m=19456 KiB, t=2, p=1), verified on every sign-in; consent is
//   given with the sign-in (Gatehouse's first-party clients are not asked);
// - storage: oidc-provider's built-in in-memory adapter (the peer has no SQL or Redis adapter).
import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { Algorithm, hash, verify } from '@node-rs/argon2';
import { errors, Provider } from 'oidc-provider';

const port = Number(process.env.PORT ?? 18090);
const secret = process.env.PEER_SECRET;
if (!secret) {
  console.error('set PEER_SECRET: the secret of the bench clients');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// Gatehouse's [passwords] defaults (src/config/mod.rs, PasswordSettings::default).
const ARGON2 = { algorithm: Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const users = new Map([
  ['ann', {
    id: 'ann',
    name: 'Ann',
    passwordHash: await hash(process.env.PEER_PASSWORD ?? 'correct horse battery staple', ARGON2),
  }],
]);

function privateJwk(type, options, kid) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, use: 'sig' };
}

const API = 'urn:bench:api';
const OPAQUE = 'urn:bench:opaque';
const resourceServers = {
  [API]: { scope: 'read', accessTokenTTL: 900, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
  [OPAQUE]: { scope: 'read', accessTokenTTL: 900, accessTokenFormat: 'opaque' },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bench-cc',
      client_secret: secret,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'bench-web',
      client_secret: secret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1:9/cb'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    },
  ],
  jwks: {
    keys: [
      privateJwk('ec', { namedCurve: 'P-256' }, 'es256'),
      privateJwk('rsa', { modulusLength: 2048 }, 'rs256'),
    ],
  },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  // OIDC scopes only: `read` is a resource server's scope (below), not one the ID token releases.
  scopes: ['openid', 'offline_access', 'profile'],
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => API,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        const server = resourceServers[indicator];
        if (!server) throw new errors.InvalidTarget();
        return server;
      },
    },
  },
  // Gatehouse's defaults where it has one: interactions 10 minutes, sessions 8 hours.
  ttl: {
    AccessToken: 900,
    ClientCredentials: 900,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 30 * 86400,
    Grant: 30 * 86400,
    Interaction: 600,
    Session: 8 * 3600,
  },
  rotateRefreshToken: true,
  async findAccount(_ctx, sub) {
    const user = users.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, name: user.name, preferred_username: user.id };
      },
    };
  },
});

// The sign-in pages: GET /interaction/:uid shows the form, POST /interaction/:uid/login checks
// the password and resolves both prompts (login and consent) at once.
const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function loginPage(uid, error) {
  return `<!doctype html><html><head><title>Sign in</title></head><body>
<form method="post" action="/interaction/${escape(uid)}/login">
${error ? `<p role="alert">${escape(error)}</p>` : ''}
<input name="username" autocomplete="username"><input type="password" name="password" autocomplete="current-password">
<button>Sign in</button></form></body></html>`;
}

async function formBody(req, limit = 8192) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > limit) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

const interactionPath = /^\/interaction\/([^/]+)(\/login)?$/;
provider.use(async (ctx, next) => {
  const match = interactionPath.exec(ctx.path);
  if (!match) return next();
  const [, uid, login] = match;
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== uid) ctx.throw(400, 'interaction mismatch');
  ctx.set('Cache-Control', 'no-store');
  if (ctx.method === 'GET' && !login) {
    ctx.type = 'html';
    ctx.body = loginPage(uid);
    return undefined;
  }
  if (ctx.method !== 'POST' || !login) ctx.throw(405);
  const form = await formBody(ctx.req);
  const user = users.get(form.get('username') ?? '');
  const password = form.get('password') ?? '';
  if (!user || !(await verify(user.passwordHash, password))) {
    ctx.status = 401;
    ctx.type = 'html';
    ctx.body = loginPage(uid, 'Wrong username or password.');
    return undefined;
  }
  const { params } = details;
  const requested = new Set(String(params.scope ?? '').split(' '));
  const grant = new provider.Grant({ accountId: user.id, clientId: params.client_id });
  grant.addOIDCScope([...requested].filter((s) => ['openid', 'profile', 'offline_access'].includes(s)).join(' '));
  if (requested.has('read')) grant.addResourceScope(API, 'read');
  const grantId = await grant.save();
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, {
    login: { accountId: user.id, amr: ['pwd'] },
    consent: { grantId },
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
  return undefined;
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
