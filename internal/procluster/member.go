package procluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// logMarker starts the line this package writes into a member's log before
// each start of its process.
const logMarker = "=== procluster"

// Member is one ringd of a Cluster. Name, HTTP address and paths never
// change, also across restarts; the gossip address changes only with
// Reschedule. The embedded Client queries its HTTP API (Mine, Cluster, ...).
// Its methods are safe for concurrent use.
type Member struct {
	Name       string
	GossipAddr string // 127.0.0.1:port, TCP and UDP; set before the process starts
	HTTPAddr   string // 127.0.0.1:port
	LogPath    string // stdout and stderr of every run, appended
	DataDir    string // --data-dir, empty with Options.NoDataDir
	*Client

	cluster *Cluster
	args    []string
	env     []string
	// binary overrides the cluster's Options.Binary (SetBinary).
	binary string

	mu   sync.Mutex
	proc *proc // the current or last process; nil before the first start
}

// proc is one run of a member's process.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process was reaped
	err  error         // cmd.Wait's result; read only after done is closed
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// SetEnv adds kv ("NAME=value") to the environment of the member's next
// start (Restart, Reschedule), e.g. to shift a test build's wall clock.
func (m *Member) SetEnv(kv ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.env = append(slices.Clone(m.env), kv...)
}

// SetBinary makes the member's next start run another ringd binary (e.g.
// one built with test tags).
func (m *Member) SetBinary(path string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.binary = path
}

// SetFlag sets flag --name to value for the member's next start (Restart):
// the value of an existing "--name value" pair is replaced, otherwise the
// pair is added. A rolling change of a setting is SetFlag, then a restart.
func (m *Member) SetFlag(name, value string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.args = withFlag(m.args, "--"+name, value)
}

// Args returns the member's command line flags.
func (m *Member) Args() []string { return append([]string(nil), m.args...) }

func (m *Member) current() *proc {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.proc
}

// Running reports whether the member's process is alive (a stopped process
// counts as running).
func (m *Member) Running() bool {
	p := m.current()
	return p != nil && !p.exited()
}

// PID is the current process's id, 0 if none is running.
func (m *Member) PID() int {
	p := m.current()
	if p == nil || p.exited() {
		return 0
	}
	return p.cmd.Process.Pid
}

// Done returns a channel that is closed when the current process has exited
// (at once if none was started).
func (m *Member) Done() <-chan struct{} {
	p := m.current()
	if p == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// Wait waits until the current process exits and returns its result (nil for
// exit status 0, an *exec.ExitError otherwise), or ctx's error.
func (m *Member) Wait(ctx context.Context) error {
	p := m.current()
	if p == nil {
		return ErrNotRunning
	}
	select {
	case <-p.done:
		return p.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Signal sends sig to the member's process (e.g. syscall.SIGTERM for a
// graceful shutdown; follow with Wait).
func (m *Member) Signal(sig os.Signal) error {
	p := m.current()
	if p == nil || p.exited() {
		return fmt.Errorf("%s: %w", m.Name, ErrNotRunning)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			return fmt.Errorf("%s: %w", m.Name, ErrNotRunning)
		}
		return fmt.Errorf("%s: signal %v: %w", m.Name, sig, err)
	}
	return nil
}

// Kill sends SIGKILL and waits until the process is reaped, so that on return
// Running is false and the member's ports are free. Killing a stopped
// (SIGSTOP) process works too.
func (m *Member) Kill() error {
	p := m.current()
	if p == nil || p.exited() {
		return fmt.Errorf("%s: %w", m.Name, ErrNotRunning)
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("%s: kill: %w", m.Name, err)
	}
	t := time.NewTimer(killTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("%s: pid %d not reaped %v after SIGKILL", m.Name, p.cmd.Process.Pid, killTimeout)
	}
}

// Stop sends SIGSTOP: the process freezes (no gossip, no heartbeats, no HTTP
// answers) until Cont. On Linux it returns once the kernel reports the
// process stopped.
func (m *Member) Stop() error {
	if err := m.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	return waitStopped(m.PID(), true)
}

// Cont sends SIGCONT to a stopped process. On Linux it returns once the
// kernel reports the process no longer stopped.
func (m *Member) Cont() error {
	if err := m.Signal(syscall.SIGCONT); err != nil {
		return err
	}
	return waitStopped(m.PID(), false)
}

// Restart starts the member again with the same name, ports, data dir and
// flags, first SIGKILLing the old process if it still runs, and returns once
// its HTTP API answers. Its log gets a marker line and the new output appended.
func (m *Member) Restart(ctx context.Context) error {
	if m.Running() {
		if err := m.Kill(); err != nil && !errors.Is(err, ErrNotRunning) {
			return err
		}
	}
	if err := m.start("restart"); err != nil {
		return err
	}
	return m.waitUp(ctx, m.cluster.opt.StartTimeout)
}

// start starts a process for m unless one runs or the cluster is closed.
func (m *Member) start(why string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Checked under m.mu: Close sets closed before it takes m.mu to kill, so a
	// start either happens before that kill or is refused here.
	if m.cluster.closed.Load() {
		return ErrClosed
	}
	if m.proc != nil && !m.proc.exited() {
		return fmt.Errorf("%s: already running as pid %d", m.Name, m.proc.cmd.Process.Pid)
	}
	logf, err := os.OpenFile(m.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("procluster: %w", err)
	}
	bin := m.cluster.opt.Binary
	if m.binary != "" {
		bin = m.binary
	}
	fmt.Fprintf(logf, "%s %s %s: %s %s\n", logMarker, time.Now().Format(time.RFC3339Nano), why, bin, strings.Join(m.args, " "))
	cmd := exec.Command(bin, m.args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = m.env
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("procluster: start %s: %w", m.Name, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	m.proc = p
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return nil
}

// waitUp polls GET /healthz until any HTTP response comes back, the process
// exits, timeout passes or ctx ends. An exit whose output reports a port in
// use wraps errBindFailed.
func (m *Member) waitUp(ctx context.Context, timeout time.Duration) error {
	p := m.current()
	if p == nil {
		return fmt.Errorf("%s: %w", m.Name, ErrNotRunning)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if m.answers(ctx) {
			return nil
		}
		select {
		case <-p.done:
			out := m.lastRunOutput()
			err := fmt.Errorf("%s exited before its HTTP API at %s answered (%v); its output:\n%s",
				m.Name, m.HTTPAddr, p.err, indent(out))
			if strings.Contains(strings.ToLower(out), "address already in use") {
				return fmt.Errorf("%w: %w", errBindFailed, err)
			}
			return err
		case <-ctx.Done():
			return fmt.Errorf("%s: HTTP API at %s did not answer: %w; log tail:\n%s",
				m.Name, m.HTTPAddr, ctx.Err(), indent(m.LogTail(20)))
		case <-tick.C:
		}
	}
}

// answers reports whether the HTTP API gives any HTTP response.
func (m *Member) answers(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err := m.Client.do(ctx, http.MethodGet, "/healthz", nil)
	var he *HTTPError
	return err == nil || errors.As(err, &he)
}

// LogTail returns up to n last lines of the member's log ("" if unreadable).
func (m *Member) LogTail(n int) string {
	b := readTail(m.LogPath, 64<<10)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lastRunOutput is the log after the last start marker (its last 64 KiB).
func (m *Member) lastRunOutput() string {
	b := readTail(m.LogPath, 64<<10)
	if i := bytes.LastIndex(b, []byte(logMarker)); i >= 0 {
		b = b[i:]
		if j := bytes.IndexByte(b, '\n'); j >= 0 {
			b = b[j+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// readTail reads the last max bytes of a file.
func readTail(path string, max int64) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > max {
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return nil
		}
	}
	b, _ := io.ReadAll(f)
	return b
}

func indent(s string) string {
	if s == "" {
		return "    (empty)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
