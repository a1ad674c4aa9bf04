// Command coder-agent runs the workspace agent of github.com/coder/coder v0.19.0
// (agent.New with an agentsdk client) the way `coder agent` of that release does
// for --auth token, without the reaper, pprof server and cloud identity flows
// the interop harness does not need. Environment: CODER_AGENT_URL,
// CODER_AGENT_TOKEN, CODER_AGENT_LOG_DIR (optional).
package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/sloghuman"

	"github.com/coder/coder/agent"
	"github.com/coder/coder/buildinfo"
	"github.com/coder/coder/codersdk/agentsdk"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "coder-agent:", err)
		os.Exit(1)
	}
}

func run() error {
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

	client := agentsdk.New(coderURL)
	client.SDK.Logger = logger
	client.SDK.HTTPClient.Timeout = 10 * time.Second
	client.SetSessionToken(token)

	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("executable: %w", err)
	}
	// As `coder agent` does: the agent's own directory joins PATH.
	_ = os.Setenv("PATH", os.Getenv("PATH")+string(filepath.ListSeparator)+filepath.Dir(exe))

	closer := agent.New(agent.Options{
		Client:               client,
		Logger:               logger,
		LogDir:               logDir,
		ExchangeToken:        func(context.Context) (string, error) { return client.SDK.SessionToken(), nil },
		EnvironmentVariables: map[string]string{"GIT_ASKPASS": exe},
		AgentPorts:           map[int]string{},
	})
	<-ctx.Done()
	logger.Info(context.Background(), "shutting down agent")
	return closer.Close()
}
