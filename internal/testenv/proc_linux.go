package testenv

import "syscall"

// sysProcAttr makes the peer get deathSig when the test process dies and,
// when as is set, run as that OS user.
func sysProcAttr(as *runAs, deathSig syscall.Signal) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Pdeathsig: deathSig}
	if as != nil {
		a.Credential = &syscall.Credential{Uid: as.uid, Gid: as.gid}
	}
	return a
}
