// An interactive SAML 2.0 identity provider for Gatehouse's browser and HTTP
// tests, built on samlify (an implementation independent of Gatehouse's own
// SAML code). testenv.SAMLIdP (internal/testenv/samlidp.go) starts it as
//
//   node server.js CONFIG.json
//
// where CONFIG.json holds {port, baseURL, entityID, keyFile, certFile, token}.
// It listens on 127.0.0.1:port and serves
//
//   GET  /metadata        the IdP metadata samlify generates
//   GET  /sso             HTTP-Redirect AuthnRequest (SAMLRequest, RelayState):
//                         parsed and schema-checked by samlify, then a sign-in page.
//                         With wantAuthnRequestsSigned (the metadata then says
//                         WantAuthnRequestsSigned="true") samlify also verifies
//                         SigAlg + Signature with the signing certificate of the
//                         SP's metadata and refuses unsigned or badly signed
//                         requests (400 error page)
//   POST /sso/login       the sign-in form (rid, email, password): on success an
//                         auto-submitting form POSTing SAMLResponse + RelayState
//                         to the SP's ACS; otherwise the sign-in page with an error
//   GET  /slo             a placeholder single-logout endpoint (for the metadata)
//   GET  /healthz         "ok"
//   PUT  /_testenv/config the users, SPs and response options, replaced wholesale
//                         (header X-Testenv-Token must carry the token); answers
//                         {sps, metadata} (the metadata changes with
//                         wantAuthnRequestsSigned)
//
// Responses are built by samlify's IdentityProvider.createLoginResponse
// (HTTP-POST binding) and signed by it (xml-crypto, rsa-sha256 / sha256,
// exclusive c14n) as the options say.
'use strict';
const fs = require('fs');
const http = require('http');
const zlib = require('zlib');
const crypto = require('crypto');
const saml = require('samlify');
saml.setSchemaValidator(require('@authenio/samlify-node-xmllint'));

const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
const NAMEID_PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const NAMEID_TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
const NAMEID_UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified';

// Entra ID's claim URIs (what an Entra enterprise application sends by default).
const ENTRA = {
  tenantid: 'http://schemas.microsoft.com/identity/claims/tenantid',
  objectidentifier: 'http://schemas.microsoft.com/identity/claims/objectidentifier',
  displayname: 'http://schemas.microsoft.com/identity/claims/displayname',
  identityprovider: 'http://schemas.microsoft.com/identity/claims/identityprovider',
  authnmethodsreferences: 'http://schemas.microsoft.com/claims/authnmethodsreferences',
  emailaddress: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress',
  name: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
  groups: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/groups',
  groupsLink: 'http://schemas.microsoft.com/claims/groups.link',
};

const conf = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const keyPEM = fs.readFileSync(conf.keyFile, 'utf8');
const certPEM = fs.readFileSync(conf.certFile, 'utf8');
const tenantID = crypto.randomUUID();

// newIdP builds samlify's IdP entity; whether it wants signed AuthnRequests
// is part of its metadata, so a change of that option builds a new one.
function newIdP(wantAuthnRequestsSigned) {
  return saml.IdentityProvider({
    entityID: conf.entityID,
    privateKey: keyPEM,
    signingCert: certPEM,
    requestSignatureAlgorithm: RSA_SHA256,
    wantAuthnRequestsSigned,
    nameIDFormat: [NAMEID_EMAIL, NAMEID_PERSISTENT, NAMEID_UNSPECIFIED, NAMEID_TRANSIENT],
    singleSignOnService: [{ Binding: BINDING_REDIRECT, Location: conf.baseURL + '/sso' }],
    singleLogoutService: [{ Binding: BINDING_REDIRECT, Location: conf.baseURL + '/slo' }],
  });
}
let idp = newIdP(false);
let metadataXML = idp.getMetadata();

// samlify's IdP needs *a* service provider to parse an AuthnRequest with; it
// uses it only to verify a request signature. While no signature is wanted
// this placeholder serves, and the request's Issuer then picks the
// registered SP that is answered. When signatures are wanted, the
// registered SP the Issuer names is the one whose metadata certificate must
// verify the signature.
const anySP = saml.ServiceProvider({
  entityID: 'urn:gatehouse:testenv:any-sp',
  assertionConsumerService: [{ Binding: BINDING_POST, Location: conf.baseURL + '/nowhere' }],
});
const RSA_SHA1 = 'http://www.w3.org/2000/09/xmldsig#rsa-sha1';

// State, replaced by PUT /_testenv/config.
let state = {
  users: [], // {email, name, objectID, groups[], password}
  sps: new Map(), // entityID -> {entityID, acs: [url], entity: samlify SP, signingCert: bool}
  wantAuthnRequestsSigned: false,
  signAssertion: true,
  signResponse: true,
  entraClaims: false,
  groupsOverage: false,
  nameIDFormat: NAMEID_EMAIL,
};

// Parsed AuthnRequests waiting for the person to sign in, by random id.
const pending = new Map(); // rid -> {requestID, issuer, acs, relayState, expires}
const PENDING_TTL_MS = 30 * 60 * 1000;

function log(...args) { console.log(new Date().toISOString(), ...args); }

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, Object.assign({
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(body),
  }, headers));
  res.end(body);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}label{display:block;margin:.6rem 0}
input{width:100%;padding:.3rem}.error{color:#a00;border:1px solid #a00;padding:.5rem}</style></head>
<body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
}

function errorPage(res, status, message) {
  log('error page:', message);
  send(res, status, 'text/html; charset=utf-8', page('Test IdP error', `<p class="error" id="error">${esc(message)}</p>`));
}

function signInPage(res, status, rid, p, email, error) {
  const body = `<p>Sign in to continue to <span id="sp">${esc(p.issuer)}</span>.</p>
${error ? `<p class="error" id="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/sso/login" id="signin">
<input type="hidden" name="rid" value="${esc(rid)}">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" value="${esc(email || '')}" autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">
<p><button type="submit">Sign in</button></p>
</form>`;
  send(res, status, 'text/html; charset=utf-8', page('Test IdP sign-in', body));
}

function readBody(req, limit = 1 << 20) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) { reject(new Error('request body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// handleSSO parses an HTTP-Redirect AuthnRequest with samlify and shows the
// sign-in page.
// signedOctets is what an HTTP-Redirect signature covers (SAML bindings
// §3.4.4.1): "SAMLRequest=v&RelayState=v&SigAlg=v" with each value exactly
// as it appears in the URL (still URL-encoded), whatever the parameters'
// order in the URL.
function signedOctets(rawQuery) {
  const raw = {};
  for (const kv of rawQuery.split('&')) {
    const i = kv.indexOf('=');
    const k = i < 0 ? kv : kv.slice(0, i);
    if (!(k in raw)) raw[k] = i < 0 ? '' : kv.slice(i + 1);
  }
  const parts = [`SAMLRequest=${raw.SAMLRequest}`];
  if ('RelayState' in raw) parts.push(`RelayState=${raw.RelayState}`);
  parts.push(`SigAlg=${raw.SigAlg}`);
  return parts.join('&');
}

// requestIssuer reads the Issuer of a deflated, base64 AuthnRequest, only
// to choose which SP's certificate verifies it; samlify then parses the
// request and its Issuer must be that SP.
function requestIssuer(samlRequest) {
  let xml;
  try {
    xml = zlib.inflateRawSync(Buffer.from(samlRequest, 'base64')).toString('utf8');
  } catch (e) {
    return '';
  }
  const m = /<(?:[A-Za-z_][\w.-]*:)?Issuer\b[^>]*>([^<]*)<\//.exec(xml);
  return m ? m[1].trim() : '';
}

async function handleSSO(req, res, url) {
  const query = Object.fromEntries(url.searchParams);
  if (!query.SAMLRequest) return errorPage(res, 400, 'no SAMLRequest in the query (HTTP-Redirect binding expected)');
  let from = anySP;
  if (state.wantAuthnRequestsSigned) {
    if (!query.Signature || !query.SigAlg) {
      return errorPage(res, 400, 'this IdP requires signed AuthnRequests and the request has no SigAlg and Signature');
    }
    if (query.SigAlg === RSA_SHA1) return errorPage(res, 400, 'the AuthnRequest is signed with RSA-SHA1, which this IdP refuses');
    const claimed = requestIssuer(query.SAMLRequest);
    const sp = state.sps.get(claimed);
    if (!sp) {
      return errorPage(res, 400, `the AuthnRequest comes from ${JSON.stringify(claimed)}, a service provider this IdP does not know (registered: ${JSON.stringify([...state.sps.keys()])})`);
    }
    if (!sp.signingCert) {
      return errorPage(res, 400, `this IdP requires signed AuthnRequests and the metadata of ${claimed} has no signing certificate`);
    }
    from = sp.entity;
  }
  let parsed;
  try {
    parsed = await idp.parseLoginRequest(from, 'redirect', { query, octetString: signedOctets(url.search.slice(1)) });
  } catch (e) {
    return errorPage(res, 400, `samlify refused the AuthnRequest: ${e && e.message ? e.message : e}`);
  }
  const ex = parsed.extract || {};
  const request = ex.request || {};
  const issuer = typeof ex.issuer === 'string' ? ex.issuer.trim() : '';
  if (!request.id) return errorPage(res, 400, 'the AuthnRequest has no ID');
  const sp = state.sps.get(issuer);
  if (!sp) {
    return errorPage(res, 400, `the AuthnRequest comes from ${JSON.stringify(issuer)}, a service provider this IdP does not know (registered: ${JSON.stringify([...state.sps.keys()])})`);
  }
  if (from !== anySP && sp.entity !== from) {
    return errorPage(res, 400, `the AuthnRequest was verified with the certificate of ${from.entityMeta.getEntityID()} but is issued by ${issuer}`);
  }
  if (state.wantAuthnRequestsSigned) log('AuthnRequest signature verified with the metadata certificate of', issuer, parsed.sigAlg);
  let acs = sp.acs[0];
  if (request.assertionConsumerServiceUrl) {
    if (!sp.acs.includes(request.assertionConsumerServiceUrl)) {
      return errorPage(res, 400, `the AuthnRequest asks for the ACS ${JSON.stringify(request.assertionConsumerServiceUrl)}, which is not in the metadata of ${issuer} (${JSON.stringify(sp.acs)})`);
    }
    acs = request.assertionConsumerServiceUrl;
  }
  if (request.destination && request.destination !== conf.baseURL + '/sso') {
    return errorPage(res, 400, `the AuthnRequest's Destination ${JSON.stringify(request.destination)} is not this IdP's SSO URL ${conf.baseURL}/sso`);
  }
  const now = Date.now();
  for (const [k, v] of pending) if (v.expires < now) pending.delete(k);
  const rid = crypto.randomBytes(16).toString('hex');
  pending.set(rid, { requestID: request.id, issuer, acs, relayState: query.RelayState, expires: now + PENDING_TTL_MS });
  log('AuthnRequest', request.id, 'from', issuer, 'ACS', acs);
  signInPage(res, 200, rid, pending.get(rid), '', '');
}

function attribute(name, values, entra) {
  // Entra sends neither NameFormat nor xsi:type; others commonly send both.
  const head = entra
    ? `<saml:Attribute Name="${esc(name)}">`
    : `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">`;
  const vals = values.map((v) => entra
    ? `<saml:AttributeValue>${esc(v)}</saml:AttributeValue>`
    : `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('');
  return head + vals + '</saml:Attribute>';
}

function attributeStatement(user) {
  const e = state.entraClaims;
  const parts = [];
  const groups = state.groupsOverage
    ? () => parts.push(attribute(ENTRA.groupsLink, [`https://graph.windows.net/${tenantID}/users/${user.objectID}/getMemberObjects`], e))
    : () => { if (user.groups.length) parts.push(attribute(e ? ENTRA.groups : 'groups', user.groups, e)); };
  if (e) {
    parts.push(attribute(ENTRA.tenantid, [tenantID], e));
    if (user.objectID) parts.push(attribute(ENTRA.objectidentifier, [user.objectID], e));
    if (user.name) parts.push(attribute(ENTRA.displayname, [user.name], e));
    parts.push(attribute(ENTRA.identityprovider, [`https://sts.windows.net/${tenantID}/`], e));
    parts.push(attribute(ENTRA.authnmethodsreferences, ['http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password'], e));
    parts.push(attribute(ENTRA.emailaddress, [user.email], e));
    if (!user.omitName) parts.push(attribute(ENTRA.name, [user.email], e));
    groups();
  } else {
    if (user.objectID) parts.push(attribute('objectidentifier', [user.objectID], e));
    if (!user.omitName) parts.push(attribute('name', [user.email], e));
    if (user.name) parts.push(attribute('displayname', [user.name], e));
    groups();
  }
  return `<saml:AttributeStatement>${parts.join('')}</saml:AttributeStatement>`;
}

function nameIDFor(user) {
  if (user.nameID) return user.nameID;
  switch (state.nameIDFormat) {
    case NAMEID_PERSISTENT: return user.objectID || user.email;
    case NAMEID_TRANSIENT: return '_' + crypto.randomBytes(16).toString('hex');
    default: return user.email;
  }
}

// buildResponse has samlify build (and sign) the Response to p for user.
async function buildResponse(p, user) {
  const sp = state.sps.get(p.issuer);
  // samlify signs the Assertion when the SP's metadata says
  // WantAssertionsSigned, and the Response when the SP setting
  // wantMessageSigned is on or the assertion is not signed; so the SP is
  // described to samlify with the signing this IdP was asked for.
  const target = saml.ServiceProvider({
    entityID: sp.entityID,
    assertionConsumerService: [{ Binding: BINDING_POST, Location: p.acs }],
    wantAssertionsSigned: state.signAssertion,
    wantMessageSigned: state.signResponse,
  });
  const now = new Date();
  const later = new Date(now.getTime() + 5 * 60 * 1000);
  const nameID = nameIDFor(user);
  const replace = (template) => {
    const id = idp.entitySetting.generateID();
    const tv = {
      ID: id,
      AssertionID: idp.entitySetting.generateID(),
      Destination: p.acs,
      Audience: sp.entityID,
      SubjectRecipient: p.acs,
      Issuer: conf.entityID,
      IssueInstant: now.toISOString(),
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
      NameIDFormat: state.nameIDFormat,
      NameID: nameID,
      InResponseTo: p.requestID,
    };
    // replaceTagsByValue escapes every value, so the two XML fragments are
    // put in first (their text is escaped by attribute()).
    const fragments = {
      AuthnStatement: `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${id}_s"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
      AttributeStatement: attributeStatement(user),
    };
    for (const [k, v] of Object.entries(fragments)) template = template.split(`{${k}}`).join(v);
    return { id, context: saml.SamlLib.replaceTagsByValue(template, tv) };
  };
  if (!state.signAssertion && !state.signResponse) {
    // samlify always signs something; an unsigned Response (for refusal
    // tests) is its template filled in, not signed.
    const { context } = replace(saml.SamlLib.defaultLoginResponseTemplate.context);
    return Buffer.from(context, 'utf8').toString('base64');
  }
  const request = { extract: { request: { id: p.requestID } } };
  const out = await idp.createLoginResponse(target, request, 'post', { email: nameID }, { customTagReplacement: replace });
  return out.context;
}

function postForm(acs, fields) {
  const inputs = Object.entries(fields).filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join('\n');
  return page('Signing you in', `<form method="post" action="${esc(acs)}" id="saml-post">
${inputs}
<noscript><p>JavaScript is off: press Continue.</p></noscript>
<p><button type="submit" id="continue">Continue</button></p>
</form>
<script>document.getElementById('saml-post').submit();</script>`);
}

async function handleLogin(req, res) {
  let form;
  try {
    form = new URLSearchParams(await readBody(req));
  } catch (e) {
    return errorPage(res, 413, e.message);
  }
  const rid = form.get('rid') || '';
  const p = pending.get(rid);
  if (!p || p.expires < Date.now()) {
    return errorPage(res, 400, 'this sign-in is unknown or has expired; start again at the service provider');
  }
  const email = (form.get('email') || '').trim();
  const password = form.get('password') || '';
  const user = state.users.find((u) => u.login && u.login === email) ||
    state.users.find((u) => !u.login && u.email.toLowerCase() === email.toLowerCase());
  if (!user || (user.password !== '' && user.password !== password) || (user.password === '' && password === '')) {
    log('sign-in refused for', JSON.stringify(email));
    return signInPage(res, 401, rid, p, email, 'Wrong email or password.');
  }
  if (!state.sps.has(p.issuer)) {
    return errorPage(res, 400, `the service provider ${p.issuer} is no longer registered`);
  }
  let samlResponse;
  try {
    samlResponse = await buildResponse(p, user);
  } catch (e) {
    console.error(e);
    return errorPage(res, 500, `samlify could not build the Response: ${e && e.message ? e.message : e}`);
  }
  pending.delete(rid);
  log('Response to', p.requestID, 'for', user.email, 'posted to', p.acs);
  send(res, 200, 'text/html; charset=utf-8', postForm(p.acs, { SAMLResponse: samlResponse, RelayState: p.relayState }));
}

function configure(body) {
  const c = JSON.parse(body);
  const sps = new Map();
  for (const s of c.sps || []) {
    let entityID; let acs; let entity; let signingCert = false;
    if (s.metadata) {
      entity = saml.ServiceProvider({ metadata: s.metadata });
      entityID = entity.entityMeta.getEntityID();
      // With no binding samlify returns every AssertionConsumerService as
      // {binding, location} (an object when there is one, else an array).
      const all = entity.entityMeta.getAssertionConsumerService() || [];
      acs = (Array.isArray(all) ? all : [all]).filter((a) => a && a.binding === BINDING_POST).map((a) => a.location);
      signingCert = !!entity.entityMeta.getX509Certificate('signing');
    } else {
      entityID = s.entityID;
      acs = [s.acsURL];
      entity = saml.ServiceProvider({ entityID, assertionConsumerService: [{ Binding: BINDING_POST, Location: s.acsURL }] });
    }
    if (!entityID || !acs.length) throw new Error(`SP ${JSON.stringify(entityID)}: no entity ID or no HTTP-POST AssertionConsumerService`);
    sps.set(entityID, { entityID, acs, entity, signingCert });
  }
  const users = (c.users || []).map((u) => ({
    email: String(u.email || ''),
    name: String(u.name || ''),
    objectID: String(u.objectID || ''),
    groups: (u.groups || []).map(String),
    password: String(u.password || ''),
    login: String(u.login || ''),
    nameID: String(u.nameID || ''),
    omitName: !!u.omitName,
  }));
  const want = !!c.wantAuthnRequestsSigned;
  if (want !== state.wantAuthnRequestsSigned) {
    idp = newIdP(want);
    metadataXML = idp.getMetadata();
  }
  state = {
    users,
    sps,
    wantAuthnRequestsSigned: want,
    signAssertion: !!c.signAssertion,
    signResponse: !!c.signResponse,
    entraClaims: !!c.entraClaims,
    groupsOverage: !!c.groupsOverage,
    nameIDFormat: c.nameIDFormat || NAMEID_EMAIL,
  };
  return [...sps.keys()];
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, conf.baseURL);
  try {
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, 'text/plain', 'ok');
    if (req.method === 'GET' && url.pathname === '/metadata') return send(res, 200, 'application/samlmetadata+xml', metadataXML);
    if (req.method === 'GET' && url.pathname === '/sso') return await handleSSO(req, res, url);
    if (req.method === 'POST' && url.pathname === '/sso/login') return await handleLogin(req, res);
    if (req.method === 'GET' && url.pathname === '/slo') return send(res, 200, 'text/html; charset=utf-8', page('Signed out', '<p>You are signed out of the test IdP.</p>'));
    if (req.method === 'PUT' && url.pathname === '/_testenv/config') {
      if (req.headers['x-testenv-token'] !== conf.token) return send(res, 403, 'text/plain', 'bad token');
      let registered;
      try {
        registered = configure(await readBody(req, 16 << 20));
      } catch (e) {
        return send(res, 400, 'text/plain', String(e && e.message ? e.message : e));
      }
      return send(res, 200, 'application/json', JSON.stringify({ sps: registered, metadata: metadataXML }));
    }
    return send(res, 404, 'text/plain', 'not found');
  } catch (e) {
    console.error(e);
    if (!res.headersSent) send(res, 500, 'text/plain', String(e && e.stack ? e.stack : e));
  }
});

server.on('error', (e) => { console.error('listen:', e.code || '', e.message); process.exit(3); });
server.listen(conf.port, '127.0.0.1', () => log('listening on', conf.baseURL));
