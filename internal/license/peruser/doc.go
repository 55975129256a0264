// Package peruser owns the tables of per-user (SSO) licensing: the seats
// people hold (license_user_seats), the Desktop SSO activation attempts
// (sso_activation_attempts), the organisation's device cap and inactivity
// limit (license_sso_settings) and the IdP groups mapped to keys
// (license_key_groups). Every write to them is here.
//
// The licensing service (package license) decides who gets a seat from
// which pool, counts seats on keys and subscriptions and records devices;
// it changes the tables above only through this package's functions, inside
// its own transaction, so that a seat, its key's counter and the device
// commit together. Functions ending in Tx take that transaction; the others
// run one statement on the querier they are given.
package peruser
