// Package agentrun runs the workspace agent of github.com/coder/coder/v2
// (agent.New with an agentsdk client, token auth) the way `coder agent` of that
// release does, without the reaper, pprof/prometheus/debug listeners, the
// reinit loop and the cloud identity flows the interop harness does not need.
// Environment: CODER_AGENT_URL, CODER_AGENT_TOKEN, CODER_AGENT_LOG_DIR
// (optional). It is used by cmd/coder-agent and by the test binary itself
// (TestMain re-executes itself as the agent), so `go test -c` alone builds
// everything the scenarios need.
package agentrun

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
	_ "unsafe" // go:linkname

	"cdr.dev/slog/v3"
	"cdr.dev/slog/v3/sloggers/sloghuman"

	"github.com/coder/coder/v2/agent"
	"github.com/coder/coder/v2/agent/agentexec"
	"github.com/coder/coder/v2/buildinfo"
	"github.com/coder/coder/v2/codersdk/agentsdk"
)

// Release is the github.com/coder/coder/v2 version in go.mod, without "v".
const Release = "2.30.0"

// buildTag is buildinfo's ldflags-injected tag (`-X .../buildinfo.tag=`);
// set at run time so a plain `go build`/`go test -c` reports the release.
//
//go:linkname buildTag github.com/coder/coder/v2/buildinfo.tag
var buildTag string

// Run runs the agent until SIGTERM/SIGINT.
func Run() error {
	if buildTag == "" {
		buildTag = Release
	}

	rawURL := os.Getenv("CODER_AGENT_URL")
	token := os.Getenv("CODER_AGENT_TOKEN")
	if rawURL == "" || token == "" {
		return fmt.Errorf("CODER_AGENT_URL and CODER_AGENT_TOKEN must be set")
	}
	coderURL, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("parse %q: %w", rawURL, err)
	}
	logDir := os.Getenv("CODER_AGENT_LOG_DIR")
	if logDir == "" {
		logDir = os.TempDir()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger := slog.Make(sloghuman.Sink(os.Stderr)).Leveled(slog.LevelDebug)
	logger.Info(ctx, "starting agent", slog.F("url", coderURL), slog.F("version", buildinfo.Version()))

	client := agentsdk.New(coderURL, agentsdk.WithFixedToken(token))
	client.SDK.SetLogger(logger)
	client.SDK.HTTPClient.Timeout = 10 * time.Second

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	// As `coder agent` does: the agent's own directory joins PATH.
	_ = os.Setenv("PATH", os.Getenv("PATH")+string(filepath.ListSeparator)+filepath.Dir(exe))

	execer, err := agentexec.NewExecer()
	if err != nil {
		return fmt.Errorf("execer: %w", err)
	}
	closer := agent.New(agent.Options{
		Client:               client,
		Logger:               logger,
		LogDir:               logDir,
		ScriptDataDir:        logDir,
		EnvironmentVariables: map[string]string{"GIT_ASKPASS": exe},
		IgnorePorts:          map[int]string{},
		Execer:               execer,
		// Short so the metadata scenario does not wait for coderd's default.
		ReportMetadataInterval: time.Second,
	})
	<-ctx.Done()
	logger.Info(context.Background(), "shutting down agent")
	return closer.Close()
}
