// Package fleet is what Desktop installations report and receive (spec 07
// check-in) and what admins see and do about their VMs (spec 05 Virtual
// Machines): host and VM reports, the per-installation command queue, and
// the answer an installation gets.
//
// An installation is a license activation (license_activations.id); it
// authenticates with the device credential it got at activation.
//
// Rules the code and the schema (migration 00600) keep:
//   - Reports carry a per-installation sequence. A report older than the
//     newest applied one is ignored ("stale"); the same report twice changes
//     nothing ("duplicate"); a full report marks VMs it no longer lists as
//     gone (kept, hidden by default) and fails their open commands.
//   - An "unchanged" check-in (the client's report hash and answer hash both
//     match, no open commands) costs one indexed read; its last-seen time is
//     buffered in memory and flushed in batches (lastseen.go).
//   - Commands: pending → delivered → done | failed, or pending → cancelled.
//     Delivery takes a lease with a conditional UPDATE, so concurrent
//     check-ins of one installation (on any number of nodes) never both
//     receive a command; it is delivered again after the lease until
//     acknowledged; an acknowledgement applies once, a repeat is harmless.
//   - Bad input is refused whole (*Error with a machine-readable code) before
//     anything is written.
package fleet
