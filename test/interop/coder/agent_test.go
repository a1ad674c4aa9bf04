package interop

// Scenario 3: the real Coder v0.19.0 workspace agent (cmd/coder-agent) against
// tailnetd. Asserted through tailnetd's API (GET /workspaceagents/{id} read by
// the era's codersdk): startup posted with the agent version, lifecycle walked
// to ready after a startup script, git SSH key usable, app health reported healthy, status connected, stats reported.
// Then the harness client dials the agent through tailnetd (coordinator +
// DERP), runs a command in a reconnecting PTY, and reads the agent's
// listening-ports HTTP API. Stopping the agent must flip its status to
// disconnected within the inactive timeout.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/coder/coder/codersdk"
	"github.com/coder/coder/codersdk/agentsdk"
)

func TestRealAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	// The app the agent health-checks.
	var healthHits atomic.Int64
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		healthHits.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	defer app.Close()

	// A TCP listener the agent's port scan must report.
	portLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer portLn.Close()
	listenPort := uint16(portLn.Addr().(*net.TCPAddr).Port)

	s := startServer(t)
	user := s.createUser(t, "bob")
	ws := s.createWorkspace(t, "bob", "dev", agentSpec{
		Name:          "main",
		Auth:          "token",
		Directory:     "~",
		StartupScript: "echo startup-script-ran; sleep 1",
		Apps: []appSpec{{
			Slug:        "web",
			DisplayName: "Web",
			URL:         app.URL,
			Healthcheck: &healthcheck{URL: app.URL + "/healthz", Interval: 1, Threshold: 1},
		}},
	})
	agentID := ws.Agents[0].ID
	client := s.userClient(user.APIKey)

	before, err := client.WorkspaceAgent(ctx, agentID)
	if err != nil {
		t.Fatalf("GET /workspaceagents/%s before the agent starts: %v", agentID, err)
	}
	if before.Status != codersdk.WorkspaceAgentConnecting {
		t.Errorf("status before the agent starts = %q, want connecting", before.Status)
	}
	if before.LifecycleState != codersdk.WorkspaceAgentLifecycleCreated {
		t.Errorf("lifecycle_state before the agent starts = %q, want created", before.LifecycleState)
	}

	agent := startAgent(t, s, ws.Agents[0].Token)
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}

	var last codersdk.WorkspaceAgent
	eventually(t, 60*time.Second, 250*time.Millisecond, "agent connected, ready, v"+coderVersion+", app healthy", func() error {
		a, err := client.WorkspaceAgent(ctx, agentID)
		if err != nil {
			return err
		}
		last = a
		var problems []string
		if a.Status != codersdk.WorkspaceAgentConnected {
			problems = append(problems, fmt.Sprintf("status=%q", a.Status))
		}
		if a.LifecycleState != codersdk.WorkspaceAgentLifecycleReady {
			problems = append(problems, fmt.Sprintf("lifecycle_state=%q", a.LifecycleState))
		}
		if a.Version != "v"+coderVersion {
			problems = append(problems, fmt.Sprintf("version=%q", a.Version))
		}
		if a.ExpandedDirectory != home {
			problems = append(problems, fmt.Sprintf("expanded_directory=%q, want %q", a.ExpandedDirectory, home))
		}
		if a.FirstConnectedAt == nil || a.LastConnectedAt == nil {
			problems = append(problems, "first/last_connected_at missing")
		}
		if len(a.Apps) != 1 {
			problems = append(problems, fmt.Sprintf("%d apps", len(a.Apps)))
		} else if a.Apps[0].Health != codersdk.WorkspaceAppHealthHealthy {
			problems = append(problems, fmt.Sprintf("app health=%q (health checks served: %d)", a.Apps[0].Health, healthHits.Load()))
		}
		if len(problems) > 0 {
			return errors.New(strings.Join(problems, ", "))
		}
		return nil
	})
	t.Logf("agent: status=%s lifecycle=%s version=%s dir=%s latency=%v", last.Status, last.LifecycleState, last.Version, last.ExpandedDirectory, last.DERPLatency)

	// The key pair `coder gitssh` fetches with the agent token must be a
	// usable SSH key pair (the agent hands it to git over SSH).
	ac := agentsdk.New(s.URL)
	ac.SetSessionToken(ws.Agents[0].Token)
	keys, err := ac.GitSSHKey(ctx)
	if err != nil {
		t.Fatalf("GET /me/gitsshkey: %v", err)
	}
	signer, err := ssh.ParsePrivateKey([]byte(keys.PrivateKey))
	if err != nil {
		t.Fatalf("gitsshkey private_key does not parse: %v", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(keys.PublicKey))
	if err != nil {
		t.Fatalf("gitsshkey public_key is not an authorized_keys line: %v", err)
	}
	if !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		t.Fatalf("gitsshkey public_key does not match private_key")
	}

	// Dial the agent the way `coder ssh`/`coder port-forward` of the era do.
	conn, err := client.DialWorkspaceAgent(ctx, agentID, &codersdk.DialWorkspaceAgentOptions{
		Logger:         peerLogger(t, testLogDir(t)+"/client-peer.log"),
		BlockEndpoints: true,
	})
	if err != nil {
		t.Fatalf("DialWorkspaceAgent: %v", err)
	}
	defer conn.Close()
	if _, p2p, _, err := conn.Ping(ctx); err != nil {
		t.Fatalf("ping agent: %v", err)
	} else if p2p {
		t.Fatalf("ping went peer-to-peer with endpoints blocked")
	}

	// Reconnecting PTY (agent port 2).
	runMarker(ctx, t, conn, "tailnetd")

	// Agent HTTP API (port 4): listening ports as the agent sees them.
	ports, err := conn.ListeningPorts(ctx)
	if err != nil {
		t.Fatalf("agent listening-ports API: %v", err)
	}
	found := false
	for _, p := range ports.Ports {
		if p.Port == listenPort && p.Network == "tcp" {
			found = true
		}
	}
	if !found {
		t.Fatalf("agent listening ports %+v lack the harness's tcp/%d", ports.Ports, listenPort)
	}

	// Stats: the tailnet traffic above must show up in a non-empty report.
	eventually(t, 20*time.Second, 500*time.Millisecond, "agent reported non-empty stats", func() error {
		n, err := s.nonEmptyStats(agentID)
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("no workspace_agent_stats row with traffic yet")
		}
		return nil
	})

	// tailnetd's own listening-ports endpoint needs tailnetd itself on the
	// tailnet; report what it does without failing the scenario on it.
	if sp, err := client.WorkspaceAgentListeningPorts(ctx, agentID); err != nil {
		t.Logf("NOTE: GET /workspaceagents/{id}/listening-ports through tailnetd: %v", err)
	} else {
		t.Logf("GET /workspaceagents/{id}/listening-ports through tailnetd: %d ports", len(sp.Ports))
	}

	_ = conn.Close()
	stopAt := time.Now()
	agent.stop(t)
	eventually(t, 15*time.Second, 250*time.Millisecond, "agent disconnected after stop", func() error {
		a, err := client.WorkspaceAgent(ctx, agentID)
		if err != nil {
			return err
		}
		last = a
		if a.Status != codersdk.WorkspaceAgentDisconnected {
			return fmt.Errorf("status=%q", a.Status)
		}
		return nil
	})
	t.Logf("disconnected %s after SIGTERM; lifecycle_state=%s disconnected_at=%v", time.Since(stopAt).Round(100*time.Millisecond), last.LifecycleState, last.DisconnectedAt)
	if last.LifecycleState != codersdk.WorkspaceAgentLifecycleOff {
		t.Errorf("lifecycle_state after a clean agent shutdown = %q, want off (v0.19.0 reports shutting_down then off)", last.LifecycleState)
	}
}
