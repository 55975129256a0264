"""pysaml2 acting as the identity provider for Gatehouse's interop test.

Reads one JSON object on stdin:
  entity_id, key_file, cert_file: the IdP's identity and signing key
  sp_metadata: Gatehouse's SP metadata XML (as SPMetadata renders it)
  saml_request: the HTTP-Redirect SAMLRequest (deflated, base64)
  name_id, attributes: the user
  sign_response, sign_assertion: booleans
and prints the base64 SAMLResponse pysaml2 would POST to the ACS.
"""
import base64
import json
import sys

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256
from saml2.saml import NAME_FORMAT_URI


def main():
    req = json.load(sys.stdin)
    conf = {
        "entityid": req["entity_id"],
        "xmlsec_binary": "/usr/bin/xmlsec1",
        "key_file": req["key_file"],
        "cert_file": req["cert_file"],
        "metadata": {"inline": [req["sp_metadata"]]},
        "service": {
            "idp": {
                "endpoints": {
                    "single_sign_on_service": [
                        (req["sso_url"], BINDING_HTTP_REDIRECT),
                    ],
                },
                "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
                "policy": {
                    "default": {
                        "lifetime": {"minutes": 5},
                        "attribute_restrictions": None,
                        "name_form": NAME_FORMAT_URI,
                    },
                },
                "sign_response": req["sign_response"],
                "sign_assertion": req["sign_assertion"],
            },
        },
    }
    cnf = IdPConfig()
    cnf.load(conf)
    server = Server(config=cnf)
    info = server.parse_authn_request(req["saml_request"], BINDING_HTTP_REDIRECT)
    args = server.response_args(info.message, [BINDING_HTTP_POST])
    name_id = NameID(format=NAMEID_FORMAT_EMAILADDRESS, text=req["name_id"])
    xml = server.create_authn_response(
        req["attributes"],
        userid=req["name_id"],
        name_id=name_id,
        authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
               "authn_auth": req["entity_id"]},
        sign_response=req["sign_response"],
        sign_assertion=req["sign_assertion"],
        sign_alg=SIG_RSA_SHA256,
        digest_alg=DIGEST_SHA256,
        **args,
    )
    sys.stdout.write(base64.b64encode(str(xml).encode()).decode())


if __name__ == "__main__":
    main()
