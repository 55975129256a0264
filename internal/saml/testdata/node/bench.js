// Times samlify's validation of a SAML Response as a service provider, for
// Gatehouse's BenchmarkConsumeResponse to compare with its own validator.
//
// Reads one JSON object on stdin: idpEntityID, idpCertPEM, spMetadata,
// samlResponse (base64, the very document the Go benchmark validates), n,
// schema (boolean).
// Prints {"n":…, "seconds":…, "perSecond":…}. Single-threaded, as Node is.
'use strict';
const saml = require('samlify');

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  // With schema=false samlify skips XSD validation (libxml2 in WebAssembly,
  // most of its time), leaving signature and condition checks.
  saml.setSchemaValidator(input.schema ? require('@authenio/samlify-node-xmllint') : { validate: async () => 'skipped' });
  const idp = saml.IdentityProvider({
    entityID: input.idpEntityID,
    signingCert: input.idpCertPEM,
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: 'https://idp.example.test/sso' }],
  });
  const sp = saml.ServiceProvider({ metadata: input.spMetadata, clockDrifts: [-180000, 180000] });
  const once = () => sp.parseLoginResponse(idp, 'post', { body: { SAMLResponse: input.samlResponse } });
  const first = await once(); // fails loudly if samlify refuses the document
  if (!first.extract || !first.extract.nameID) throw new Error('samlify extracted no NameID');
  for (let i = 0; i < 50; i++) await once(); // warm-up (JIT)
  const start = process.hrtime.bigint();
  for (let i = 0; i < input.n; i++) await once();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  process.stdout.write(JSON.stringify({ n: input.n, seconds, perSecond: input.n / seconds, nameID: first.extract.nameID }));
}

main().catch((e) => { console.error(e); process.exit(1); });
