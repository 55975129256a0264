// Package archtest holds tests of the code base's structure rather than
// its behaviour: TestTableOwnership checks that every table is written by
// exactly the package docs/architecture.md names as its owner.
package archtest
