// Package license owns subscriptions (issued by the vendor), license keys
// (one primary key per subscription, sublicense keys derived from it), seat
// pools, per-device activations with Ed25519-signed activation certificates,
// registered computers, and email invitations with single-use activation
// codes.
//
// # Seat invariants
//
// A subscription has Seats seats. Its keys draw on them in two ways:
//
//   - A reserved sublicense key sets Seats(k) seats aside for itself. The
//     sum of all reserved allotments is kept in subscriptions.reserved.
//   - The primary key and every dynamic sublicense key draw from the shared
//     pool: the seats not reserved, Seats − reserved. The seats they hold are
//     counted in subscriptions.shared_used. A dynamic key additionally has a
//     cap Seats(k) it never exceeds; the primary key has no cap of its own.
//
// Every key counts the seats its activations hold in license_keys.used.
// The database keeps these true at every commit, on one node or many:
//
//	(I1) 0 ≤ reserved, 0 ≤ shared_used, reserved + shared_used ≤ Seats
//	(I2) for reserved and dynamic keys: 0 ≤ used(k) ≤ Seats(k)
//	(I3) reserved    = Σ Seats(k) over live reserved keys
//	(I4) shared_used = Σ used(k)  over live primary and dynamic keys
//	(I5) used(k)     = number of active activations of k
//
// From these: seats in use = Σ used(reserved keys) + shared_used ≤ reserved
// + shared_used ≤ Seats, so a subscription is never oversubscribed; a
// reserved key always finds Seats(k) − used(k) seats free (nobody else can
// take them); a dynamic key gets seats first come, first served until either
// its cap or the shared pool runs out.
//
// How they are kept, without ever reading a counter into Go and writing it
// back:
//
//   - Taking a seat on key k (activation) is, inside one transaction,
//     UPDATE license_keys SET used = used + 1 WHERE id = k AND deleted_at IS
//     NULL AND (kind = 'primary' OR used < seats) RETURNING kind, and, when
//     that kind is primary or dynamic, UPDATE subscriptions SET shared_used =
//     shared_used + 1 WHERE id = s AND reserved + shared_used < seats. Either
//     update touching no row means no free seat and rolls the whole
//     transaction back. The key row is always updated before the
//     subscription row, so PostgreSQL's row locks are taken in one order and
//     two activations cannot deadlock; a concurrent change of the key's kind
//     is serialized on the key row, and the kind RETURNING gives is the one
//     the counters must follow.
//     Before that transaction, activation reads the counters without a lock
//     and refuses at once when the key or the pool is visibly full; a stale
//     read can only refuse what a moment earlier would have been refused,
//     it never grants, so thousands of refusals cost no write.
//   - Releasing a seat (deactivation) first flips the activation from active
//     to deactivated with a conditional UPDATE (… AND status = 'active'); only
//     the transaction that flipped it decrements the counters, so a seat is
//     returned exactly once however many admins and devices deactivate at
//     the same moment.
//   - Changing a key's allotment or kind updates the key row conditionally
//     (the new cap must hold its current used), reads the locked row's used
//     via RETURNING, and then moves reserved/shared_used by the difference in
//     one conditional UPDATE on the subscription that requires (I1) to hold
//     afterwards. Deleting a key deactivates its activations and returns its
//     reservation or its shared seats in the same transaction.
//   - The vendor changing Seats is UPDATE … WHERE reserved + shared_used ≤ new.
//
// CHECK constraints on both tables restate (I1) and (I2), so a bug in this
// package fails the transaction instead of oversubscribing.
//
// Per-user (SSO) seats, added later, use the same counters: a person holding
// a seat counts once in used(k) of the key their group maps to (and in
// shared_used when that key is primary or dynamic), however many devices
// they activate. (I5) then counts active per-device activations plus active
// per-user seats; peruser.go states it as (I5') with the invariants of the
// person's devices.
package license
