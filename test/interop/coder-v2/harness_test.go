package interop

// Shared harness for the current-Coder (github.com/coder/coder/v2) scenarios:
// start tailnetd (built from this repository) on a free port with a temporary
// SQLite store, provision through its CLI, run the current agent (this test
// binary re-executed as the agent, see internal/agentrun), build the 2023-era
// binaries from ../coder on demand, and keep every process's log in a
// per-test directory whose tails are printed when the test fails.
//
// Every scenario first probes the v2 route it needs (GET without an upgrade):
// a 404 means this tailnetd does not offer it yet and the scenario is skipped
// with that reason instead of failing.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
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

	"tailnetd.test/interop/coder-v2/internal/agentrun"
)

var (
	// agentCmd is how to start the current agent: this test binary with
	// CODER_V2_RUN_AGENT=1, or CODER_V2_AGENT_BIN when set.
	agentCmd []string
	repoRoot string
	logRoot  string
	binDir   string
)

func TestMain(m *testing.M) {
	if os.Getenv("CODER_V2_RUN_AGENT") == "1" {
		if err := agentrun.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "coder-agent:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	repoRoot = os.Getenv("TAILNETD_ROOT")
	if repoRoot == "" {
		if repoRoot, err = filepath.Abs("../../.."); err != nil {
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
		if logRoot, err = os.MkdirTemp("", "tailnetd-interop-coder-v2-"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
	}
	binDir = filepath.Join(logRoot, "bin")
	_ = os.MkdirAll(binDir, 0o755)
	if bin := os.Getenv("CODER_V2_AGENT_BIN"); bin != "" {
		agentCmd = []string{bin}
	} else {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		agentCmd = []string{self}
	}
	fmt.Fprintf(os.Stderr, "interop logs: %s\n", logRoot)
	return m.Run()
}

// agentVersion is what the current agent reports (agentrun sets buildinfo's tag).
const agentVersion = "v" + agentrun.Release

var (
	logDirsMu sync.Mutex
	logDirs   = map[*testing.T]string{}
)

func testLogDir(t *testing.T) string {
	t.Helper()
	logDirsMu.Lock()
	defer logDirsMu.Unlock()
	if dir, ok := logDirs[t]; ok {
		return dir
	}
	dir := filepath.Join(logRoot, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	logDirs[t] = dir
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".log") {
				continue
			}
			t.Logf("---- last lines of %s ----\n%s", filepath.Join(dir, e.Name()), tailFile(filepath.Join(dir, e.Name()), 60))
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
	stop    func()
}

func startServer(t *testing.T, extraEnv ...string) *server {
	t.Helper()
	logDir := testLogDir(t)
	dataDir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	stun := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	env := append(os.Environ(),
		"TAILNETD_HTTP_ADDRESS="+addr,
		"TAILNETD_ACCESS_URL=http://"+addr,
		"TAILNETD_DATA_DIR="+dataDir,
		"TAILNETD_LOG_LEVEL=debug",
		"TAILNETD_PROMETHEUS_ENABLE=false",
		"TAILNETD_STUN_ADDRESS="+stun,
		"TAILNETD_DERP_SERVER_STUN_ADDRESSES="+stun,
		"TAILNETD_AGENT_STATS_REFRESH_INTERVAL_MS=1000",
		"TAILNETD_AGENT_CONNECTION_UPDATE_FREQUENCY_MS=1000",
		"TAILNETD_SHUTDOWN_GRACE_PERIOD_MS=5000",
	)
	env = append(env, extraEnv...)
	s := &server{dataDir: dataDir, env: env, logDir: logDir}
	s.start(t)
	t.Cleanup(func() {
		if s.stop != nil {
			s.stop()
		}
	})
	t.Logf("tailnetd at %s, data %s, logs %s", s.URL, dataDir, logDir)
	return s
}

// restart stops tailnetd (SIGTERM) and starts it again on the same address
// and data directory.
func (s *server) restart(t *testing.T) {
	t.Helper()
	if s.stop != nil {
		s.stop()
		s.stop = nil
	}
	s.start(t)
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
				t.Logf("NOTE: tailnetd took %s to exit after SIGTERM", d.Round(100*time.Millisecond))
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

// cliRun runs a tailnetd CLI command; it returns stdout, stderr and the error.
func (s *server) cliRun(args ...string) ([]byte, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(repoRoot, "dist", "cli", "index.js")}, args...)...)
	cmd.Dir = repoRoot
	cmd.Env = s.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.Bytes(), stderr.Bytes(), err
}

func (s *server) cli(t *testing.T, args ...string) []byte {
	t.Helper()
	out, errOut, err := s.cliRun(args...)
	if err != nil {
		t.Fatalf("tailnetd %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return out
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

func decodeJSON(t *testing.T, out []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(bytes.TrimSpace(out), v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
}

func (s *server) createUser(t *testing.T, username string) createdUser {
	t.Helper()
	var u createdUser
	decodeJSON(t, s.cli(t, "users", "create", "--username", username, "--email", username+"@example.com", "--output", "json"), &u)
	if u.APIKey == "" {
		t.Fatalf("users create returned no api_key")
	}
	return u
}

// createWorkspace provisions one workspace with one agent; spec is the JSON
// agent object of src/provisioning/schema.ts.
func (s *server) createWorkspace(t *testing.T, owner, name string, spec map[string]any) createdBuild {
	t.Helper()
	b, err := s.tryCreateWorkspace(owner, name, spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (s *server) tryCreateWorkspace(owner, name string, spec map[string]any) (createdBuild, error) {
	var b createdBuild
	raw, _ := json.Marshal(spec)
	out, errOut, err := s.cliRun("workspaces", "create", "--owner", owner, "--name", name, "--agent", string(raw), "--output", "json")
	if err != nil {
		return b, fmt.Errorf("workspaces create %s: %v: %s%s", raw, err, out, errOut)
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &b); err != nil {
		return b, fmt.Errorf("decode %q: %v", out, err)
	}
	if len(b.Agents) != 1 || b.Agents[0].Token == "" {
		return b, fmt.Errorf("workspaces create: want one agent with a token, got %+v", b)
	}
	return b, nil
}

// httpGet does one GET with a Coder-Session-Token and returns status and body.
func (s *server) httpGet(ctx context.Context, path, token string, header http.Header) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL.String()+path, nil)
	if err != nil {
		return 0, nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.Header.Set("Coder-Session-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return res.StatusCode, body, nil
}

// requireRoute skips the test when tailnetd answers 404 on a v2 route. The
// probe is a plain GET without upgrade headers: an upgrade would open a real
// session (an agent connection that then times out and marks the agent
// disconnected). Coder answers such a GET on a present route with 426 (from
// websocket.Accept) after the auth and version checks.
func (s *server) requireRoute(t *testing.T, path, token string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := s.httpGet(ctx, path, token, nil)
	if err != nil {
		t.Fatalf("probe %s: %v", path, err)
	}
	text := strings.TrimSpace(string(body))
	t.Logf("probe GET %s (no upgrade) → %d %s", path, status, text)
	if status == http.StatusNotFound {
		t.Skipf("tailnetd does not offer %s yet (GET answered 404 %s); v2 routes not in this build", path, text)
	}
}

// agentView is the part of GET /api/v2/workspaceagents/{id} the scenarios read.
type agentView struct {
	ID                string   `json:"id"`
	Status            string   `json:"status"`
	LifecycleState    string   `json:"lifecycle_state"`
	Version           string   `json:"version"`
	ExpandedDirectory string   `json:"expanded_directory"`
	APIVersion        string   `json:"api_version"`
	StartedAt         any      `json:"started_at"`
	ReadyAt           any      `json:"ready_at"`
	Subsystems        []string `json:"subsystems"`
}

func (s *server) agent(ctx context.Context, apiKey string, id uuid.UUID) (agentView, []byte, error) {
	var v agentView
	status, body, err := s.httpGet(ctx, "/api/v2/workspaceagents/"+id.String(), apiKey, nil)
	if err != nil {
		return v, body, err
	}
	if status != http.StatusOK {
		return v, body, fmt.Errorf("GET /workspaceagents/%s: %d %s", id, status, body)
	}
	err = json.Unmarshal(body, &v)
	return v, body, err
}

// proc is a running child process (agent) with its log file.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
	name   string
}

func startProc(t *testing.T, name string, argv []string, env []string) *proc {
	t.Helper()
	logFile, err := os.Create(filepath.Join(testLogDir(t), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{}), name: name}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(t)
		_ = logFile.Close()
	})
	return p
}

// stop sends SIGTERM and waits up to 15 s before killing.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("%s did not exit within 15s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// startCurrentAgent runs the github.com/coder/coder/v2 agent with the token.
func startCurrentAgent(t *testing.T, s *server, token string) *proc {
	t.Helper()
	files := filepath.Join(testLogDir(t), "agent-files")
	_ = os.MkdirAll(files, 0o755)
	return startProc(t, "coder-agent-v2", agentCmd, []string{
		"CODER_V2_RUN_AGENT=1",
		"CODER_AGENT_URL=" + s.URL.String(),
		"CODER_AGENT_TOKEN=" + token,
		"CODER_AGENT_LOG_DIR=" + files,
	})
}

func eventually(t *testing.T, timeout, interval time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %s: %v", what, timeout, err)
		}
		time.Sleep(interval)
	}
}

// sqlite runs one read-only query on tailnetd's SQLite file with the repo's
// better-sqlite3 and returns the rows as JSON.
func (s *server) sqlite(query string, args ...string) ([]map[string]any, error) {
	matches, _ := filepath.Glob(filepath.Join(s.dataDir, "*.db"))
	more, _ := filepath.Glob(filepath.Join(s.dataDir, "*.sqlite*"))
	var db string
	for _, m := range append(matches, more...) {
		if !strings.HasSuffix(m, "-wal") && !strings.HasSuffix(m, "-shm") && !strings.HasSuffix(m, "-journal") {
			db = m
			break
		}
	}
	if db == "" {
		return nil, fmt.Errorf("no SQLite file in %s", s.dataDir)
	}
	const script = `const D = require('better-sqlite3');
const db = new D(process.argv[1], { readonly: true, fileMustExist: true });
const rows = db.prepare(process.argv[2]).all(...process.argv.slice(3));
process.stdout.write(JSON.stringify(rows));`
	cmd := exec.Command("node", append([]string{"-e", script, db, query}, args...)...)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		return nil, fmt.Errorf("sqlite %q: %v: %s", query, err, stderr)
	}
	var rows []map[string]any
	err = json.Unmarshal(out, &rows)
	return rows, err
}

// echoServer accepts TCP connections on 127.0.0.1 and echoes every byte; the
// agents forward tailnet TCP to it.
func echoServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// echoRoundTrip writes n random bytes on c and checks the same bytes come back.
func echoRoundTrip(t *testing.T, c net.Conn, n int) time.Duration {
	t.Helper()
	payload := make([]byte, n)
	_, _ = rand.Read(payload)
	_ = c.SetDeadline(time.Now().Add(90 * time.Second))
	start := time.Now()
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(payload)
		werr <- err
	}()
	got := make([]byte, n)
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read echo of %d bytes: %v", n, err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write %d bytes: %v", n, err)
	}
	if sha256.Sum256(got) != sha256.Sum256(payload) {
		t.Fatalf("echoed %d bytes differ (sha256)", n)
	}
	return time.Since(start)
}

// Legacy (2023) binaries from ../coder, built once per run on demand.
var (
	legacyOnce sync.Once
	legacyErr  error
)

// legacyBinaries builds the v0.19.0 agent (../coder/cmd/coder-agent) and the
// v1 client (testdata/v1client, compiled inside ../coder through -overlay so
// that module's tree is not touched) with that module's go.toolchain.
func legacyBinaries(t *testing.T) (agentBin, clientBin string) {
	t.Helper()
	agentBin = filepath.Join(binDir, "coder-agent-v0.19.0")
	clientBin = filepath.Join(binDir, "v1client")
	legacyOnce.Do(func() {
		legacyErr = buildLegacy(agentBin, clientBin)
	})
	if legacyErr != nil {
		t.Fatalf("build 2023 binaries: %v", legacyErr)
	}
	return agentBin, clientBin
}

func buildLegacy(agentBin, clientBin string) error {
	dir, err := filepath.Abs("../coder")
	if err != nil {
		return err
	}
	tc, err := os.ReadFile(filepath.Join(dir, "go.toolchain"))
	if err != nil {
		return err
	}
	src, err := filepath.Abs("testdata/v1client/main.go")
	if err != nil {
		return err
	}
	overlay := filepath.Join(binDir, "v1client-overlay.json")
	virtual := filepath.Join(dir, "cmd", "zz-tailnetd-v1client", "main.go")
	ov, _ := json.Marshal(map[string]any{"Replace": map[string]string{virtual: src}})
	if err := os.WriteFile(overlay, ov, 0o644); err != nil {
		return err
	}
	env := append(os.Environ(),
		"GOTOOLCHAIN="+strings.TrimSpace(string(tc)),
		"GONOSUMDB=github.com/coder,github.com/tailscale",
		"GOFLAGS=-mod=readonly",
	)
	for _, args := range [][]string{
		{"build", "-buildvcs=false", "-ldflags", "-X github.com/coder/coder/buildinfo.tag=0.19.0", "-o", agentBin, "./cmd/coder-agent"},
		{"build", "-buildvcs=false", "-overlay", overlay, "-o", clientBin, "./cmd/zz-tailnetd-v1client"},
	} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}
