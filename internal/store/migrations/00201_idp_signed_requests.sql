-- +goose Up
-- The IdP requires signed AuthnRequests (its metadata's
-- WantAuthnRequestsSigned, or the configurator's checkbox): the SP then
-- signs them with the deployment's key (settings 'saml.sp_signing_key').
ALTER TABLE idp_integrations ADD COLUMN idp_want_signed_requests BOOLEAN NOT NULL DEFAULT FALSE;

-- +goose Down
ALTER TABLE idp_integrations DROP COLUMN idp_want_signed_requests;
