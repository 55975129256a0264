//go:build !linux

package testenv

import "syscall"

// sysProcAttr: peers run as the current user; only Linux has a parent-death
// signal, elsewhere Main and cleanups stop them.
func sysProcAttr(as *runAs, deathSig syscall.Signal) *syscall.SysProcAttr { return nil }
