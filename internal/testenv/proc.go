package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a peer process started by a test. It dies with the test process
// (parent-death signal on Linux), so a test binary killed by -timeout leaves
// no server behind.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *tailBuffer
	done chan struct{}
	err  error // exit status, valid after done is closed
}

// runAs says which OS user runs a peer; nil means the current user.
type runAs struct {
	uid, gid uint32
	home     string
}

// nobodyUser returns the "nobody" OS user when the test runs as root, nil
// otherwise.
func nobodyUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	return lookupUser("nobody")
}

// postgresUser returns the "postgres" OS user when the test runs as root
// (PostgreSQL refuses to run as root), nil otherwise.
func postgresUser() (*runAs, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	as, err := lookupUser("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and no postgres OS user to run the server as: %w", err)
	}
	return as, nil
}

func lookupUser(name string) (*runAs, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &runAs{uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}, nil
}

func newCmd(as *runAs, deathSig syscall.Signal, dir, path string, args ...string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C", "LANG=C")
	cmd.SysProcAttr = sysProcAttr(as, deathSig)
	if as != nil {
		cmd.Env = append(cmd.Env, "HOME="+as.home)
	}
	return cmd
}

// startProc starts a long-running peer.
func startProc(name string, cmd *exec.Cmd) (*proc, error) {
	p := &proc{name: name, cmd: cmd, out: &tailBuffer{max: 64 << 10}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.out
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends sig, waits up to grace for the exit, then kills.
func (p *proc) stop(sig os.Signal, grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// output returns the tail of what the process printed.
func (p *proc) output() string { return p.out.String() }

// runOut runs a short command and returns its combined output.
func runOut(cmd *exec.Cmd) (string, error) {
	var b bytes.Buffer
	cmd.Stdout = &b
	cmd.Stderr = &b
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		err = fmt.Errorf("%s: %v", cmd.Path, err)
	}
	return b.String(), err
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// removeStaleDirs deletes temp directories of peers whose test process was
// killed (the peer died with it through the parent-death signal, its files
// stayed): those older than ten minutes whose pid file names no live process.
func removeStaleDirs(pattern, pidFile string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), pattern))
	for _, dir := range dirs {
		st, err := os.Stat(dir)
		if err != nil || time.Since(st.ModTime()) < 10*time.Minute {
			continue // possibly another test process's peer starting up
		}
		if b, err := os.ReadFile(filepath.Join(dir, pidFile)); err == nil {
			line, _, _ := strings.Cut(string(b), "\n")
			if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && pid > 0 && syscall.Kill(pid, 0) == nil {
				continue // still running
			}
		}
		os.RemoveAll(dir)
	}
}
