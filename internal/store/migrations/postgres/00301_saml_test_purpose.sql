-- +goose Up
-- A third purpose of an AuthnRequest: an admin's test sign-in from the IdP
-- configurator.
ALTER TABLE saml_requests DROP CONSTRAINT saml_requests_purpose_check;
ALTER TABLE saml_requests ADD CONSTRAINT saml_requests_purpose_check CHECK (purpose IN ('portal', 'desktop', 'test'));

-- +goose Down
DELETE FROM saml_requests WHERE purpose = 'test';
ALTER TABLE saml_requests DROP CONSTRAINT saml_requests_purpose_check;
ALTER TABLE saml_requests ADD CONSTRAINT saml_requests_purpose_check CHECK (purpose IN ('portal', 'desktop'));
