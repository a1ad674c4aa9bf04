package interop

// Scenario (c): mixed eras through one tailnetd.
//
//   V1ClientToCurrentAgent: the Coder v0.19.0 client (codersdk.DialWorkspaceAgent,
//     v1 JSON client coordinate; testdata/v1client built in ../coder) reaches
//     the current agent (v2 Coordinate on /me/rpc): ping over DERP + 1 MiB echo.
//   CurrentClientToV1Agent: the current client (workspacesdk, v2 Coordinate on
//     /{agent}/coordinate?version=2.0) reaches the v0.19.0 agent (REST + v1 JSON
//     /me/coordinate): ping over DERP + 1 MiB echo.
//
// Addresses differ by era, in Coder itself and not because of tailnetd: the
// v0.19.0 agent owns only the fixed legacy address
// fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4 (what the v0.19 SDK dials); the
// current agent owns only addresses derived from its UUID (what the current
// SDK dials). So each client dials the address the other era's agent owns.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cdr.dev/slog/v3"
	"cdr.dev/slog/v3/sloggers/sloghuman"
	"github.com/coder/quartz"
	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/coder/coder/v2/codersdk"
	"github.com/coder/coder/v2/codersdk/workspacesdk"
	"github.com/coder/coder/v2/tailnet"
)

var legacyAgentIP = netip.MustParseAddr("fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4")

func TestMixedEra(t *testing.T) {
	t.Run("V1ClientToCurrentAgent", testV1ClientToCurrentAgent)
	t.Run("CurrentClientToV1Agent", testCurrentClientToV1Agent)
}

func waitStatus(ctx context.Context, t *testing.T, s *server, apiKey string, id fmt.Stringer, want, version string) {
	t.Helper()
	eventually(t, 60*time.Second, 500*time.Millisecond, "agent "+want+" with version "+version, func() error {
		status, body, err := s.httpGet(ctx, "/api/v2/workspaceagents/"+id.String(), apiKey, nil)
		if err != nil {
			return err
		}
		var v agentView
		_ = json.Unmarshal(body, &v)
		if status != 200 || v.Status != want || (version != "" && v.Version != version) {
			return fmt.Errorf("%d status %q version %q", status, v.Status, v.Version)
		}
		return nil
	})
}

func testV1ClientToCurrentAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	s := startServer(t)
	user := s.createUser(t, "erin")
	ws := s.createWorkspace(t, "erin", "dev", map[string]any{"name": "main", "auth": "token"})
	agentID := ws.Agents[0].ID
	s.requireRoute(t, "/api/v2/workspaceagents/me/rpc?version=2.7", ws.Agents[0].Token)
	_, clientBin := legacyBinaries(t)
	startCurrentAgent(t, s, ws.Agents[0].Token)
	waitStatus(ctx, t, s, user.APIKey, agentID, "connected", agentVersion)

	port := echoServer(t)
	target := tailnet.TailscaleServicePrefix.AddrFromUUID(agentID)
	logFile, err := os.Create(filepath.Join(testLogDir(t), "client-v0.19.0.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, clientBin)
	cmd.Env = append(os.Environ(),
		"V1_URL="+s.URL.String(),
		"V1_API_KEY="+user.APIKey,
		"V1_AGENT_ID="+agentID.String(),
		"V1_TARGET_IP="+target.String(),
		"V1_TARGET_PORT="+strconv.Itoa(port),
		"V1_BYTES="+strconv.Itoa(1<<20),
	)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, logFile
	runErr := cmd.Run()
	var res struct {
		Pinged   bool   `json:"pinged"`
		P2P      bool   `json:"p2p"`
		Via      string `json:"via"`
		Bytes    int    `json:"bytes"`
		EchoedOK bool   `json:"echoed_ok"`
		Error    string `json:"error"`
	}
	found := false
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			found = json.Unmarshal([]byte(line), &res) == nil
		}
	}
	if !found {
		t.Fatalf("v1 client printed no RESULT (exit %v): %s", runErr, stdout.String())
	}
	t.Logf("v1 client → current agent at %s: %+v", target, res)
	if res.Error != "" || !res.Pinged || !res.EchoedOK {
		t.Fatalf("v1 client failed: %s", res.Error)
	}
	if res.P2P {
		t.Errorf("v1 client ping went p2p (%s) with BlockEndpoints", res.Via)
	}
}

func testCurrentClientToV1Agent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	s := startServer(t)
	user := s.createUser(t, "frank")
	ws := s.createWorkspace(t, "frank", "dev", map[string]any{"name": "main", "auth": "token"})
	agentID := ws.Agents[0].ID
	// The current client needs the v2 client coordinate; /me/rpc is the
	// marker that this tailnetd has the v2 routes at all.
	s.requireRoute(t, "/api/v2/workspaceagents/me/rpc?version=2.7", ws.Agents[0].Token)
	agentBin, _ := legacyBinaries(t)
	files := filepath.Join(testLogDir(t), "agent-files")
	_ = os.MkdirAll(files, 0o755)
	startProc(t, "coder-agent-v0.19.0", []string{agentBin}, []string{
		"CODER_AGENT_URL=" + s.URL.String(),
		"CODER_AGENT_TOKEN=" + ws.Agents[0].Token,
		"CODER_AGENT_LOG_DIR=" + files,
	})
	waitStatus(ctx, t, s, user.APIKey, agentID, "connected", "v0.19.0")

	tn := dialCurrentNoWait(ctx, t, s, user.APIKey, agentID, "client-v2")
	reach, cancelReach := context.WithTimeout(ctx, 60*time.Second)
	defer cancelReach()
	if !tn.AwaitReachable(reach, legacyAgentIP) {
		t.Fatalf("v0.19.0 agent's legacy address %s not reachable within 60s: %v", legacyAgentIP, reach.Err())
	}
	_, p2p, pong, err := tn.Ping(ctx, legacyAgentIP)
	if err != nil {
		t.Fatalf("ping %s: %v", legacyAgentIP, err)
	}
	if p2p {
		t.Errorf("ping went p2p with BlockEndpoints (endpoint %q)", pong.Endpoint)
	}
	port := echoServer(t)
	c, err := tn.DialContextTCP(ctx, netip.AddrPortFrom(legacyAgentIP, uint16(port)))
	if err != nil {
		t.Fatalf("tailnet TCP dial %s:%d: %v", legacyAgentIP, port, err)
	}
	defer c.Close()
	d := echoRoundTrip(t, c, 1<<20)
	t.Logf("current client → v0.19.0 agent: ping via DERP region %d, 1 MiB echoed in %s", pong.DERPRegionID, d.Round(time.Millisecond))
}

// dialCurrentNoWait builds the client side the way the current
// workspacesdk.Client.DialAgent does (GET /{agent}/connection, tailnet v2
// controller on /{agent}/coordinate?version=2.0 with resume tokens,
// tunnel-source coordination to agentID, DERP map stream) but returns the
// tailnet.Conn once the control plane is connected, without DialAgent's final
// wait for the agent's UUID-derived address, which a v0.19.0 agent does not own.
func dialCurrentNoWait(ctx context.Context, t *testing.T, s *server, apiKey string, agentID uuid.UUID, name string) *tailnet.Conn {
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
	wsc := workspacesdk.New(client)
	info, err := wsc.AgentConnectionInfo(ctx, agentID)
	if err != nil {
		t.Fatalf("GET /workspaceagents/%s/connection: %v", agentID, err)
	}
	wsOpts := &websocket.DialOptions{HTTPClient: client.HTTPClient, CompressionMode: websocket.CompressionDisabled}
	client.SessionTokenProvider.SetDialOption(wsOpts)
	coordURL, _ := s.URL.Parse(fmt.Sprintf("/api/v2/workspaceagents/%s/coordinate", agentID))
	dialer := workspacesdk.NewWebsocketDialer(logger, coordURL, wsOpts)
	controller := tailnet.NewController(logger, dialer)
	controller.ResumeTokenCtrl = tailnet.NewBasicResumeTokenController(logger, quartz.NewReal())
	wsc.RewriteDERPMap(info.DERPMap)
	conn, err := tailnet.NewConn(&tailnet.Options{
		Addresses:      []netip.Prefix{netip.PrefixFrom(tailnet.TailscaleServicePrefix.RandomAddr(), 128)},
		DERPMap:        info.DERPMap,
		Logger:         logger,
		BlockEndpoints: true,
	})
	if err != nil {
		t.Fatalf("tailnet.NewConn: %v", err)
	}
	coord := tailnet.NewTunnelSrcCoordController(logger, conn)
	coord.AddDestination(agentID)
	controller.CoordCtrl = coord
	controller.DERPCtrl = tailnet.NewBasicDERPController(logger, wsc, conn)
	runCtx, cancel := context.WithCancel(context.Background())
	controller.Run(runCtx)
	t.Cleanup(func() {
		cancel()
		<-controller.Closed()
		_ = conn.Close()
	})
	select {
	case err := <-dialer.Connected():
		if err != nil {
			t.Fatalf("tailnet v2 control plane: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("tailnet v2 control plane not connected: %v", ctx.Err())
	}
	return conn
}
