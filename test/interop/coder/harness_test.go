package interop

// Shared harness: start tailnetd (built from this repository) on a free port
// with a temporary SQLite store, provision users/workspaces/builds through its
// CLI, start the era-matched Coder agent binary, and keep every process's log
// in a per-test directory that is printed when the test fails.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/codersdk"
)

var (
	// agentBin is the coder-agent binary (cmd/coder-agent), built once per
	// test binary run unless CODER_AGENT_BIN names a prebuilt one.
	agentBin string
	// repoRoot is the tailnetd checkout whose dist/ is started.
	repoRoot string
	// logRoot holds one directory per test with every process's output.
	logRoot string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	repoRoot = os.Getenv("TAILNETD_ROOT")
	if repoRoot == "" {
		repoRoot, err = filepath.Abs("../../..")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "dist", "cli", "index.js")); err != nil {
		fmt.Fprintf(os.Stderr, "tailnetd is not built (%v): run `npm run build` in %s first\n", err, repoRoot)
		return 2
	}
	logRoot = os.Getenv("INTEROP_LOG_DIR")
	if logRoot == "" {
		logRoot, err = os.MkdirTemp("", "tailnetd-interop-coder-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	agentBin = os.Getenv("CODER_AGENT_BIN")
	if agentBin == "" {
		agentBin = filepath.Join(logRoot, "coder-agent")
		build := exec.Command("go", "build", "-buildvcs=false", "-ldflags", "-X github.com/coder/coder/buildinfo.tag="+coderVersion, "-o", agentBin, "./cmd/coder-agent")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build coder-agent:", err)
			return 2
		}
	}
	fmt.Fprintf(os.Stderr, "interop logs: %s\n", logRoot)
	return m.Run()
}

// coderVersion is the github.com/coder/coder release in go.mod; the agent
// reports it as v<coderVersion> in POST /me/startup.
const coderVersion = "0.19.0"

// testLogDir returns the test's log directory; on failure the tail of every
// log in it is printed.
func testLogDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(logRoot, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".log") {
				continue
			}
			t.Logf("---- last lines of %s ----\n%s", filepath.Join(dir, e.Name()), tailFile(filepath.Join(dir, e.Name()), 80))
		}
	})
	return dir
}

func tailFile(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// server is one running tailnetd.
type server struct {
	URL     *url.URL
	dataDir string
	env     []string
	logDir  string
	starts  int
	stop    func() // stops the running process; nil when stopped
}

// startServer starts `node dist/cli/index.js server` on a free loopback port
// with a fresh data directory and waits for its "listening" log line.
// extraEnv entries (KEY=VALUE) override the defaults.
func startServer(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	logDir := testLogDir(t)
	dataDir := t.TempDir()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// tailnetd's own STUN responder on a free UDP port, advertised in the
	// DERP map so the peers' netcheck measures against it (no internet here).
	stun := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	env := append(os.Environ(),
		"TAILNETD_HTTP_ADDRESS="+addr,
		"TAILNETD_ACCESS_URL=http://"+addr,
		"TAILNETD_DATA_DIR="+dataDir,
		"TAILNETD_LOG_LEVEL=debug",
		"TAILNETD_PROMETHEUS_ENABLE=false",
		"TAILNETD_STUN_ADDRESS="+stun,
		"TAILNETD_DERP_SERVER_STUN_ADDRESSES="+stun,
		// Short intervals keep scenarios fast; same meaning as coderd's.
		"TAILNETD_AGENT_STATS_REFRESH_INTERVAL_MS=1000",
		"TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS=1000",
		// Bounds each scenario's teardown; a drain that needs the whole grace
		// is reported by halt.
		"TAILNETD_SHUTDOWN_GRACE_PERIOD_MS=5000",
	)
	env = append(env, extraEnv...)
	s := &server{dataDir: dataDir, env: env, logDir: logDir}
	s.start(t)
	t.Cleanup(func() { s.halt(t) })
	t.Logf("tailnetd at %s, data %s, logs %s", s.URL, dataDir, logDir)
	return s
}

// restart stops tailnetd (SIGTERM) and starts it again on the same address
// and data directory.
func (s *server) restart(t *testing.T) {
	t.Helper()
	s.halt(t)
	s.start(t)
}

func (s *server) halt(t *testing.T) {
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
}

func (s *server) start(t *testing.T) {
	t.Helper()
	s.starts++
	name := "tailnetd.log"
	if s.starts > 1 {
		name = fmt.Sprintf("tailnetd-%d.log", s.starts)
	}
	logFile, err := os.Create(filepath.Join(s.logDir, name))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(repoRoot, "dist", "cli", "index.js"), "server")
	cmd.Dir = repoRoot
	cmd.Env = s.env
	cmd.Stderr = logFile
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start tailnetd: %v", err)
	}
	exited := make(chan struct{})
	copied := make(chan struct{})
	listening := make(chan string, 1)
	go func() {
		defer close(copied)
		// Copy the JSON log to the file and pick out the "listening" line.
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Bytes()
			_, _ = logFile.Write(append(line, '\n'))
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" && rec.URL != "" {
				select {
				case listening <- rec.URL:
				default:
				}
			}
		}
		_, _ = io.Copy(logFile, stdout)
	}()
	go func() {
		<-copied
		_ = cmd.Wait()
		close(exited)
	}()
	s.stop = func() {
		sent := time.Now()
		defer func() {
			if d := time.Since(sent); d > 3*time.Second {
				t.Logf("NOTE: tailnetd took %s to exit after SIGTERM (see README: half-closed sockets hold the drain)", d.Round(100*time.Millisecond))
			}
		}()
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			t.Errorf("tailnetd did not exit within 20s of SIGTERM; killing it")
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logFile.Close()
	}

	select {
	case raw := <-listening:
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("tailnetd listening url %q: %v", raw, err)
		}
		s.URL = u
	case <-exited:
		t.Fatalf("tailnetd exited before listening (exit %v)", cmd.ProcessState)
	case <-time.After(30 * time.Second):
		t.Fatal("tailnetd did not log \"listening\" within 30s")
	}
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cli runs a tailnetd CLI command against the server's data directory and
// returns its stdout.
func (s *server) cli(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(repoRoot, "dist", "cli", "index.js")}, args...)...)
	cmd.Dir = repoRoot
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tailnetd %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

type createdUser struct {
	ID     uuid.UUID `json:"id"`
	APIKey string    `json:"api_key"`
}

type createdAgent struct {
	ID    uuid.UUID `json:"id"`
	Name  string    `json:"name"`
	Token string    `json:"token"`
}

type createdBuild struct {
	WorkspaceID uuid.UUID      `json:"workspace_id"`
	BuildID     uuid.UUID      `json:"build_id"`
	Agents      []createdAgent `json:"agents"`
}

func decodeCLI(t *testing.T, out []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(bytes.TrimSpace(out), v); err != nil {
		t.Fatalf("decode CLI output %q: %v", out, err)
	}
}

func (s *server) createUser(t *testing.T, username string) createdUser {
	t.Helper()
	var u createdUser
	decodeCLI(t, s.cli(t, "users", "create", "--username", username, "--email", username+"@example.com", "--output", "json"), &u)
	if u.APIKey == "" {
		t.Fatalf("users create returned no api_key")
	}
	return u
}

// agentSpec is the provisioning shape of one agent (src/provisioning/schema.ts).
type agentSpec struct {
	Name          string    `json:"name"`
	Auth          string    `json:"auth"`
	Directory     string    `json:"directory,omitempty"`
	StartupScript string    `json:"startup_script,omitempty"`
	Apps          []appSpec `json:"apps,omitempty"`
}

type appSpec struct {
	Slug        string       `json:"slug"`
	DisplayName string       `json:"display_name,omitempty"`
	URL         string       `json:"url,omitempty"`
	Healthcheck *healthcheck `json:"healthcheck,omitempty"`
}

type healthcheck struct {
	URL       string `json:"url"`
	Interval  int    `json:"interval"`
	Threshold int    `json:"threshold"`
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (s *server) createWorkspace(t *testing.T, owner, name string, agent agentSpec) createdBuild {
	t.Helper()
	var b createdBuild
	decodeCLI(t, s.cli(t, "workspaces", "create", "--owner", owner, "--name", name, "--agent", mustJSON(t, agent), "--output", "json"), &b)
	if len(b.Agents) != 1 || b.Agents[0].Token == "" {
		t.Fatalf("workspaces create: want one agent with a token, got %+v", b)
	}
	return b
}

func (s *server) createBuild(t *testing.T, workspaceID uuid.UUID, agent agentSpec) createdBuild {
	t.Helper()
	var b createdBuild
	decodeCLI(t, s.cli(t, "builds", "create", "--workspace", workspaceID.String(), "--agent", mustJSON(t, agent), "--output", "json"), &b)
	if len(b.Agents) != 1 || b.Agents[0].Token == "" {
		t.Fatalf("builds create: want one agent with a token, got %+v", b)
	}
	return b
}

// userClient is the era's codersdk client authenticated as a user.
func (s *server) userClient(apiKey string) *codersdk.Client {
	c := codersdk.New(s.URL)
	c.SetSessionToken(apiKey)
	return c
}

// agentProc is a running cmd/coder-agent.
type agentProc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	mu     sync.Mutex
	err    error
}

// startAgent runs the Coder v0.19.0 agent against the server with the
// given agent token. extraEnv (KEY=VALUE) is added to its environment.
func startAgent(t *testing.T, s *server, token string, extraEnv ...string) *agentProc {
	t.Helper()
	logDir := testLogDir(t)
	logFile, err := os.Create(filepath.Join(logDir, "coder-agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	agentLogs := filepath.Join(logDir, "agent-files")
	if err := os.MkdirAll(agentLogs, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agentBin)
	cmd.Env = append(os.Environ(),
		"CODER_AGENT_URL="+s.URL.String(),
		"CODER_AGENT_TOKEN="+token,
		"CODER_AGENT_LOG_DIR="+agentLogs,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start coder-agent: %v", err)
	}
	a := &agentProc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		a.mu.Lock()
		a.err = err
		a.mu.Unlock()
		close(a.exited)
	}()
	t.Cleanup(func() {
		a.stop(t)
		_ = logFile.Close()
	})
	return a
}

// stop sends SIGTERM (the agent then reports shutting_down/off and closes its
// sockets) and waits up to 15 s before killing it.
func (a *agentProc) stop(t *testing.T) {
	select {
	case <-a.exited:
		return
	default:
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("coder-agent did not exit within 15s of SIGTERM; killing it")
		_ = a.cmd.Process.Kill()
		<-a.exited
	}
}

// eventually polls cond every interval until it returns nil or the timeout
// passes, then fails with the last error.
func eventually(t *testing.T, timeout, interval time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		last = cond()
		if last == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, last)
		}
		time.Sleep(interval)
	}
}

// sdkStatus extracts the HTTP status from an era codersdk error, or 0.
func sdkStatus(err error) int {
	var sdkErr *codersdk.Error
	if errors.As(err, &sdkErr) {
		return sdkErr.StatusCode()
	}
	return 0
}

// nonEmptyStats counts the agent's stats rows that carry traffic, read from
// tailnetd's SQLite file (tailnetd has no stats read API of its own; the Coder
// API of the era had none either).
func (s *server) nonEmptyStats(agentID uuid.UUID) (int, error) {
	matches, _ := filepath.Glob(filepath.Join(s.dataDir, "*.db"))
	more, _ := filepath.Glob(filepath.Join(s.dataDir, "*.sqlite*"))
	matches = append(matches, more...)
	var db string
	for _, m := range matches {
		if !strings.HasSuffix(m, "-wal") && !strings.HasSuffix(m, "-shm") && !strings.HasSuffix(m, "-journal") {
			db = m
			break
		}
	}
	if db == "" {
		return 0, fmt.Errorf("no SQLite file in %s", s.dataDir)
	}
	const script = `const D = require('better-sqlite3');
const db = new D(process.argv[1], { readonly: true, fileMustExist: true });
const r = db.prepare('SELECT count(*) AS n FROM workspace_agent_stats WHERE agent_id = ? AND (rx_bytes > 0 OR tx_bytes > 0)').get(process.argv[2]);
process.stdout.write(String(r.n));`
	cmd := exec.Command("node", "-e", script, db, agentID.String())
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("query stats: %v: %s", err, out)
	}
	var n int
	if _, err := fmt.Sscan(string(out), &n); err != nil {
		return 0, fmt.Errorf("query stats output %q: %v", out, err)
	}
	return n, nil
}

// runMarker opens a fresh reconnecting PTY (agent port 2) running sh, types
// an echo through the JSON input stream and waits for its output. The marker
// only exists once the shell has evaluated the arithmetic, so the terminal's
// echo of the typed line cannot match. (A PTY whose command exits at once can
// lose its output: the v0.19.0 agent may close the session before attaching
// the connection, so the shell is kept alive until the marker is read.)
func runMarker(ctx context.Context, t *testing.T, conn *codersdk.WorkspaceAgentConn, tag string) {
	t.Helper()
	pty, err := conn.ReconnectingPTY(ctx, uuid.New(), 24, 80, "sh")
	if err != nil {
		t.Fatalf("open reconnecting PTY (%s): %v", tag, err)
	}
	defer pty.Close()
	input, err := json.Marshal(codersdk.ReconnectingPTYRequest{Data: "echo " + tag + "-marker-$((6*7))\r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pty.Write(input); err != nil {
		t.Fatalf("write PTY input (%s): %v", tag, err)
	}
	want := []byte(tag + "-marker-42")
	_ = pty.SetReadDeadline(time.Now().Add(20 * time.Second))
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for !bytes.Contains(out.Bytes(), want) {
		n, err := pty.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			t.Fatalf("PTY (%s) output without marker (%v): %q", tag, err, out.String())
		}
	}
	exit, _ := json.Marshal(codersdk.ReconnectingPTYRequest{Data: "exit\r"})
	_, _ = pty.Write(exit)
}
