package interop

// Scenario 5: ordering and restarts, the way real deployments meet them.
//  1. The client dials before the agent exists on the coordinator: its node is
//     held by tailnetd and delivered when the agent connects (coordinator
//     §4.4/§4.5), so DialWorkspaceAgent completes once the agent is up.
//  2. tailnetd restarts on the same address and data directory: the agent
//     re-runs its start-up (metadata, startup, coordinate), the client's
//     coordinate loop reconnects, both DERP clients reconnect, and a new PTY
//     session over the same tailnet connection works.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coder/coder/codersdk"
)

func TestClientFirstAndServerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	s := startServer(t)
	user := s.createUser(t, "dave")
	ws := s.createWorkspace(t, "dave", "restart", agentSpec{Name: "main", Auth: "token"})
	agentID := ws.Agents[0].ID
	client := s.userClient(user.APIKey)

	type dialResult struct {
		conn *codersdk.WorkspaceAgentConn
		err  error
	}
	dialed := make(chan dialResult, 1)
	go func() {
		conn, err := client.DialWorkspaceAgent(ctx, agentID, &codersdk.DialWorkspaceAgentOptions{
			Logger:         peerLogger(t, testLogDir(t)+"/client-peer.log"),
			BlockEndpoints: true,
		})
		dialed <- dialResult{conn, err}
	}()
	// Give the client time to send its node while no agent is connected.
	time.Sleep(2 * time.Second)
	select {
	case r := <-dialed:
		t.Fatalf("DialWorkspaceAgent returned before any agent connected: %v", r.err)
	default:
	}

	startAgent(t, s, ws.Agents[0].Token)
	r := <-dialed
	if r.err != nil {
		t.Fatalf("DialWorkspaceAgent (client first, agent later): %v", r.err)
	}
	conn := r.conn
	defer conn.Close()
	runMarker(ctx, t, conn, "first")

	firstURL := s.URL.String()
	restartedAt := time.Now()
	s.restart(t)
	if s.URL.String() != firstURL {
		t.Fatalf("restarted tailnetd moved from %s to %s", firstURL, s.URL)
	}

	// The agent reconnects with backoff (100 ms .. 10 s) and must be
	// connected again; then the existing client connection must carry a
	// new PTY session.
	eventually(t, 40*time.Second, 500*time.Millisecond, "agent connected again after restart", func() error {
		a, err := client.WorkspaceAgent(ctx, agentID)
		if err != nil {
			return err
		}
		if a.Status != codersdk.WorkspaceAgentConnected {
			return fmt.Errorf("status=%q", a.Status)
		}
		if a.LastConnectedAt == nil || a.LastConnectedAt.Before(restartedAt) {
			return fmt.Errorf("last_connected_at %v is from before the restart", a.LastConnectedAt)
		}
		return nil
	})
	reachCtx, reachCancel := context.WithTimeout(ctx, 40*time.Second)
	defer reachCancel()
	if !conn.AwaitReachable(reachCtx) {
		t.Fatalf("agent not reachable over the old client connection within 40s of the restart")
	}
	t.Logf("agent reachable again %s after the restart", time.Since(restartedAt).Round(100*time.Millisecond))
	runMarker(ctx, t, conn, "second")

	// A 4xx answer to `Upgrade: DERP` (while draining or starting) would make
	// the 2023 DERP client switch that region to WebSockets for good, which
	// with this release's URL quirk (see peers_test.go) means never
	// reconnecting to a non-443 relay.
	for _, name := range []string{"coder-agent.log", "client-peer.log"} {
		b, err := os.ReadFile(filepath.Join(testLogDir(t), name))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("use WebSockets on the next connection attempt")) {
			t.Errorf("%s: a DERP client was pushed onto WebSockets by a non-101 answer to Upgrade: DERP", name)
		}
	}
}
