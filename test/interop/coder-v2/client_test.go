package interop

// Scenario (b): a current client (codersdk/workspacesdk DialAgent: tailnet v2
// Coordinate over dRPC on /{agent}/coordinate?version=2.0, DERP map from
// /{agent}/connection, BlockEndpoints so only DERP can carry packets) reaches
// the current agent through tailnetd: disco ping answered over DERP (not p2p),
// then 4 MiB echoed over tailnet TCP through the agent's port forwarding to a
// local echo server; after a tailnetd restart the same connection carries a
// new TCP stream; the agent reports non-empty stats.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"cdr.dev/slog/v3"
	"cdr.dev/slog/v3/sloggers/sloghuman"
	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"
	"github.com/coder/coder/v2/codersdk/workspacesdk"
)

// dialCurrent dials the agent with the current SDK, logging to <name>.log.
func dialCurrent(ctx context.Context, t *testing.T, s *server, apiKey string, agentID uuid.UUID, name string) workspacesdk.AgentConn {
	t.Helper()
	s.requireRoute(t, fmt.Sprintf("/api/v2/workspaceagents/%s/coordinate?version=2.0", agentID), apiKey)
	logFile, err := os.Create(filepath.Join(testLogDir(t), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	logger := slog.Make(sloghuman.Sink(logFile)).Leveled(slog.LevelDebug)
	client := codersdk.New(s.URL)
	client.SetSessionToken(apiKey)
	client.SetLogger(logger.Named("sdk"))
	conn, err := workspacesdk.New(client).DialAgent(ctx, agentID, &workspacesdk.DialAgentOptions{
		Logger:         logger,
		BlockEndpoints: true,
	})
	if err != nil {
		t.Fatalf("workspacesdk DialAgent: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestCurrentClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	s := startServer(t)
	user := s.createUser(t, "dave")
	ws := s.createWorkspace(t, "dave", "dev", map[string]any{"name": "main", "auth": "token"})
	agentID := ws.Agents[0].ID
	s.requireRoute(t, "/api/v2/workspaceagents/me/rpc?version=2.7", ws.Agents[0].Token)
	startCurrentAgent(t, s, ws.Agents[0].Token)
	eventually(t, 60*time.Second, 500*time.Millisecond, "agent connected", func() error {
		v, _, err := s.agent(ctx, user.APIKey, agentID)
		if err != nil {
			return err
		}
		if v.Status != "connected" {
			return fmt.Errorf("status %q", v.Status)
		}
		return nil
	})

	conn := dialCurrent(ctx, t, s, user.APIKey, agentID, "client-v2")
	reach, cancelReach := context.WithTimeout(ctx, 60*time.Second)
	defer cancelReach()
	if !conn.AwaitReachable(reach) {
		t.Fatalf("agent not reachable over tailnet within 60s: %v", reach.Err())
	}
	latency, p2p, pong, err := conn.Ping(ctx)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	if p2p {
		t.Errorf("ping went p2p with BlockEndpoints (endpoint %q); want DERP", pong.Endpoint)
	}
	if pong != nil && pong.DERPRegionID == 0 {
		t.Errorf("pong has no DERP region: %+v", pong)
	}
	t.Logf("ping %s via DERP region %d (%s)", latency, pong.DERPRegionID, pong.DERPRegionCode)

	port := echoServer(t)
	c, err := conn.DialContext(ctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("tailnet TCP dial to the agent's forwarded port %d: %v", port, err)
	}
	defer c.Close()
	const n = 4 << 20
	d := echoRoundTrip(t, c, n)
	t.Logf("%d bytes echoed through tailnetd's DERP in %s", n, d.Round(time.Millisecond))

	// tailnetd restart: the client's controller redials /coordinate with its
	// resume token and the agent redials /me/rpc; the old tailnet.Conn must
	// carry a new TCP connection afterwards.
	s.restart(t)
	eventually(t, 60*time.Second, time.Second, "tailnet TCP through tailnetd after its restart", func() error {
		dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
		defer dcancel()
		c2, err := conn.DialContext(dctx, "tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return err
		}
		defer c2.Close()
		echoRoundTrip(t, c2, 64<<10)
		return nil
	})
	// coderd keeps its resume-token signing key in the database, so tokens
	// survive a restart and the client keeps its peer ID.
	if b, err := os.ReadFile(filepath.Join(testLogDir(t), "client-v2.log")); err == nil && bytes.Contains(b, []byte("server replied invalid resume token")) {
		t.Logf("NOTE: tailnetd refused the client's resume token after its restart (client-v2.log: %q); the client redialled without one, as a new peer", "server replied invalid resume token")
	}

	eventually(t, 30*time.Second, time.Second, "non-empty stats after the transfer", func() error {
		rows, err := s.sqlite("SELECT count(*) AS n FROM workspace_agent_stats WHERE agent_id = ? AND (rx_bytes > 0 OR tx_bytes > 0)", agentID.String())
		if err != nil {
			return err
		}
		if n, _ := rows[0]["n"].(float64); n < 1 {
			return fmt.Errorf("no non-empty workspace_agent_stats rows yet")
		}
		return nil
	})
}
