// A real OpenID provider for tfr's SSO tests: npm `oidc-provider` (a certified OP library) on
// 127.0.0.1, with one static confidential client, PKCE required, an interaction handler that
// signs the test user in and consents without any form, and a test-only control API.
//
//   node server.mjs [--port N] [--config FILE.json]
//
// Settings (the JSON file wins over the environment; everything is optional):
//   port           PORT           0 (default) picks a free port
//   issuerPath     ISSUER_PATH    mount the issuer under a path, e.g. /<tenant>/v2.0 (Azure AD shape)
//   issuer         ISSUER         a whole issuer URL (http://127.0.0.1:PORT/<path>); sets port and path
//   clientId       CLIENT_ID      default tfr-test
//   clientSecret   CLIENT_SECRET  default tfr-test-secret
//   redirectUris   REDIRECT_URIS  array (env: comma-separated); default http://127.0.0.1/callback
//   loopbackAnyPort LOOPBACK_ANY_PORT  default true: a redirect URI on 127.0.0.1/localhost matches a
//                                  registered one whatever its port (RFC 8252 style), so a test can
//                                  register the callback before its server has a port
//   user           (JSON only)    the first signed-in user (see POST /__test/user)
//
// When listening it prints one line: `READY {"issuer":"...","port":N}`.
//
// Test-only control API (outside the issuer path, never in a real provider):
//   POST /__test/user        {sub, email, email_verified, preferred_username, name, groups, oid,
//                             tid, upn, roles, ...any other claim}: who the NEXT login is;
//                            `_userinfo_only: ["groups", ...]` keeps those claims out of the
//                            ID token (userinfo still has them)
//   POST /__test/rotate-keys a new signing key (new kid); the old one is no longer published
//   GET  /__test/health      200

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

import Provider from 'oidc-provider';

function parseArgs(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--port') {
      out.port = Number(argv[++i]);
    } else if (arg === '--config') {
      out.config = argv[++i];
    } else if (arg === '--help' || arg === '-h') {
      out.help = true;
    } else {
      throw new Error(`unknown argument ${arg}`);
    }
  }
  return out;
}

function loadSettings() {
  const args = parseArgs(process.argv.slice(2));
  if (args.help) {
    process.stdout.write('usage: node server.mjs [--port N] [--config FILE.json] (see the header of this file)\n');
    process.exit(0);
  }
  const file = args.config ? JSON.parse(fs.readFileSync(args.config, 'utf8')) : {};
  const env = process.env;
  const settings = {
    port: Number(args.port ?? file.port ?? env.PORT ?? 0),
    issuer: file.issuer ?? env.ISSUER,
    issuerPath: file.issuerPath ?? env.ISSUER_PATH ?? '',
    clientId: file.clientId ?? env.CLIENT_ID ?? 'tfr-test',
    clientSecret: file.clientSecret ?? env.CLIENT_SECRET ?? 'tfr-test-secret',
    redirectUris: file.redirectUris
      ?? (env.REDIRECT_URIS ? env.REDIRECT_URIS.split(',').map((s) => s.trim()).filter(Boolean) : undefined)
      ?? ['http://127.0.0.1/callback'],
    loopbackAnyPort: file.loopbackAnyPort ?? (env.LOOPBACK_ANY_PORT ? env.LOOPBACK_ANY_PORT !== '0' : true),
    user: file.user,
  };
  if (settings.issuer) {
    const url = new URL(settings.issuer);
    if (!['127.0.0.1', 'localhost'].includes(url.hostname)) {
      throw new Error(`the issuer must be on 127.0.0.1 or localhost, not ${url.hostname}`);
    }
    settings.port = Number(url.port || 80);
    settings.issuerPath = url.pathname;
  }
  settings.issuerPath = settings.issuerPath.replace(/\/+$/, '');
  if (settings.issuerPath && !settings.issuerPath.startsWith('/')) {
    settings.issuerPath = `/${settings.issuerPath}`;
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------
// Accounts: every login is made for the current user; each account keeps the claims it had when
// it signed in (so tokens issued before a change keep their claims).

const DEFAULT_USER = {
  sub: 'alice',
  email: 'Alice@Example.com',
  email_verified: true,
  preferred_username: 'alice',
  name: 'Alice Example',
  groups: ['platform', 'developers'],
};

const accounts = new Map();
let currentSub;

function setUser(user) {
  if (!user || typeof user !== 'object' || typeof user.sub !== 'string' || !user.sub) {
    throw new Error('a user needs a non-empty string "sub"');
  }
  accounts.set(user.sub, { ...user });
  currentSub = user.sub;
}

async function findAccount(_ctx, sub) {
  const stored = accounts.get(sub);
  if (!stored) {
    return undefined;
  }
  const { _userinfo_only: userinfoOnly = [], ...claims } = stored;
  return {
    accountId: sub,
    // `use` is 'id_token' or 'userinfo': claims named in `_userinfo_only` stay out of the
    // ID token, so a relying party's userinfo fallback can be tested.
    async claims(use) {
      const out = { ...claims, sub };
      if (use === 'id_token') {
        for (const name of userinfoOnly) {
          delete out[name];
        }
      }
      return out;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Keys: a fresh RSA key per start (and per rotation), so tests never share a JWKS by accident.

function newSigningKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: `test-${crypto.randomUUID()}`, use: 'sig', alg: 'RS256' };
}

const cookieKeys = [crypto.randomBytes(32).toString('base64url')];

function buildProvider(settings, issuer, jwk) {
  const provider = new Provider(issuer, {
    clients: [{
      client_id: settings.clientId,
      client_secret: settings.clientSecret,
      redirect_uris: settings.redirectUris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    jwks: { keys: [jwk] },
    findAccount,
    // Which claims each scope releases. The Azure-shaped claims and groups come with `openid`
    // so every ID token carries them (when the account has them).
    claims: {
      openid: ['sub', 'groups', 'roles', 'oid', 'tid', 'upn', 'xms_edov'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    },
    // Put every claim of the granted scopes into the ID token, not only into userinfo.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    cookies: { keys: cookieKeys },
    features: {
      devInteractions: { enabled: false },
      userinfo: { enabled: true },
    },
    interactions: {
      url: (_ctx, interaction) => `${settings.issuerPath}/interaction/${interaction.uid}`,
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 600,
      Grant: 600,
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.proxy = false;

  if (settings.loopbackAnyPort) {
    const withoutPort = (value) => {
      const url = URL.parse(value);
      if (!url || !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
        return undefined;
      }
      url.port = '';
      return url.href;
    };
    const original = provider.Client.prototype.redirectUriAllowed;
    provider.Client.prototype.redirectUriAllowed = function redirectUriAllowed(value) {
      if (original.call(this, value)) {
        return true;
      }
      const wanted = withoutPort(value);
      return wanted !== undefined && this.redirectUris.some((uri) => withoutPort(uri) === wanted);
    };
  }

  // Interactions: log the current user in and consent to everything asked, without a form.
  provider.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/interaction/')) {
      return next();
    }
    const details = await provider.interactionDetails(ctx.req, ctx.res);
    const { prompt, params, session } = details;
    let result;
    if (prompt.name === 'login') {
      if (!currentSub) {
        result = { error: 'access_denied', error_description: 'no test user (POST /__test/user)' };
      } else {
        result = { login: { accountId: currentSub } };
      }
    } else if (prompt.name === 'consent') {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
      const missing = prompt.details;
      if (missing.missingOIDCScope) {
        grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      }
      if (missing.missingOIDCClaims) {
        grant.addOIDCClaims(missing.missingOIDCClaims);
      }
      if (missing.missingResourceScopes) {
        for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
          grant.addResourceScope(indicator, scopes.join(' '));
        }
      }
      result = { consent: { grantId: await grant.save() } };
    } else {
      result = { error: 'invalid_request', error_description: `unexpected prompt ${prompt.name}` };
    }
    const location = await provider.interactionResult(ctx.req, ctx.res, result, {
      mergeWithLastSubmission: prompt.name !== 'login',
    });
    ctx.status = 303;
    ctx.redirect(location);
    return undefined;
  });
  return provider;
}

// ---------------------------------------------------------------------------------------------

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 1_000_000) {
        reject(new Error('body too large'));
      }
    });
    req.on('end', () => {
      try {
        resolve(body ? JSON.parse(body) : {});
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function sendJson(res, status, value) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function main() {
  const settings = loadSettings();
  setUser(settings.user ?? DEFAULT_USER);

  let provider;
  let callback;
  let issuer;
  let jwk = newSigningKey();

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    try {
      if (url.pathname.startsWith('/__test/')) {
        if (req.method === 'POST' && url.pathname === '/__test/user') {
          setUser(await readJson(req));
          sendJson(res, 200, { current: currentSub });
        } else if (req.method === 'POST' && url.pathname === '/__test/rotate-keys') {
          jwk = newSigningKey();
          provider = buildProvider(settings, issuer, jwk);
          callback = provider.callback();
          sendJson(res, 200, { kid: jwk.kid });
        } else if (url.pathname === '/__test/health') {
          sendJson(res, 200, { issuer });
        } else {
          sendJson(res, 404, { error: 'not_found' });
        }
        return;
      }
      const prefix = settings.issuerPath;
      if (prefix) {
        if (url.pathname !== prefix && !url.pathname.startsWith(`${prefix}/`)) {
          sendJson(res, 404, { error: 'not_found', error_description: `the issuer lives under ${prefix}` });
          return;
        }
        // Mounted: oidc-provider finds its mount path from originalUrl vs url.
        req.originalUrl = req.url;
        req.url = req.url.slice(prefix.length) || '/';
      }
      callback(req, res);
    } catch (err) {
      sendJson(res, 400, { error: 'invalid_request', error_description: String(err?.message ?? err) });
    }
  });
  server.keepAliveTimeout = 1000;

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(settings.port, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  issuer = `http://127.0.0.1:${port}${settings.issuerPath}`;
  provider = buildProvider(settings, issuer, jwk);
  callback = provider.callback();

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`READY ${JSON.stringify({ issuer, port })}\n`);
}

main().catch((err) => {
  process.stderr.write(`oidc test provider failed: ${err?.stack ?? err}\n`);
  process.exit(1);
});
