// samlify acting as the identity provider for Gatehouse's interop test.
//
// Reads one JSON object on stdin:
//   entityID, ssoURL, keyPEM, certPEM   the IdP
//   spMetadata                          Gatehouse's SP metadata XML
//   redirectURL                         where Gatehouse sent the browser
//   nameID, attributes {name: [values]} the user
//   signResponse, signAssertion         booleans
// and prints the base64 SAMLResponse samlify would POST to the ACS.
'use strict';
const saml = require('samlify');
saml.setSchemaValidator(require('@authenio/samlify-node-xmllint'));

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

async function main() {
  const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
  const idp = saml.IdentityProvider({
    entityID: input.entityID,
    privateKey: input.keyPEM,
    signingCert: input.certPEM,
    singleSignOnService: [{ Binding: 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect', Location: input.ssoURL }],
    nameIDFormat: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
  });
  // samlify signs the assertion when the SP metadata says WantAssertionsSigned,
  // and the message when the SP setting wantMessageSigned is on.
  let md = input.spMetadata;
  if (!input.signAssertion) md = md.replace('WantAssertionsSigned="true"', 'WantAssertionsSigned="false"');
  const sp = saml.ServiceProvider({ metadata: md, wantMessageSigned: input.signResponse });

  const query = Object.fromEntries(new URL(input.redirectURL).searchParams);
  const request = await idp.parseLoginRequest(sp, 'redirect', { query });

  const now = new Date();
  const later = new Date(now.getTime() + 5 * 60 * 1000);
  const acs = request.extract.request.assertionConsumerServiceUrl;
  const attrs = Object.entries(input.attributes).map(([name, values]) =>
    `<saml:Attribute Name="${esc(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic">` +
    values.map((v) => `<saml:AttributeValue xsi:type="xs:string">${esc(v)}</saml:AttributeValue>`).join('') +
    '</saml:Attribute>').join('');
  const replace = (template) => {
    const id = idp.entitySetting.generateID();
    const tv = {
      ID: id,
      AssertionID: idp.entitySetting.generateID(),
      Destination: acs,
      Audience: sp.entityMeta.getEntityID(),
      SubjectRecipient: acs,
      Issuer: idp.entityMeta.getEntityID(),
      IssueInstant: now.toISOString(),
      StatusCode: 'urn:oasis:names:tc:SAML:2.0:status:Success',
      ConditionsNotBefore: now.toISOString(),
      ConditionsNotOnOrAfter: later.toISOString(),
      SubjectConfirmationDataNotOnOrAfter: later.toISOString(),
      NameIDFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      NameID: input.nameID,
      InResponseTo: request.extract.request.id,
    };
    // replaceTagsByValue escapes values, so the two XML fragments go in first.
    const fragments = {
      AuthnStatement: `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="${id}_s"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
      AttributeStatement: `<saml:AttributeStatement>${attrs}</saml:AttributeStatement>`,
    };
    for (const [k, v] of Object.entries(fragments)) template = template.split(`{${k}}`).join(v);
    return { id, context: saml.SamlLib.replaceTagsByValue(template, tv) };
  };
  const { context } = await idp.createLoginResponse(sp, request, 'post', { email: input.nameID }, { customTagReplacement: replace });
  process.stdout.write(context);
}

main().catch((e) => { console.error(e); process.exit(1); });
