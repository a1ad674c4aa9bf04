package interop

// Scenario 2: two real Coder v0.19.0 tailnet peers through tailnetd.
//
//	agent peer (tailnet.Conn, agent IP)          client peer (codersdk.DialWorkspaceAgent)
//	  GET /me/metadata  -> DERP map                GET /{agent}/connection -> DERP map
//	  WS  /me/coordinate (agentsdk.Listen)  <-->   WS /{agent}/coordinate
//	              \______ WireGuard over tailnetd's DERP (endpoints blocked) ______/
//
// The client pings the agent and pushes 10 MiB over a tailnet TCP connection;
// the agent peer answers with the SHA-256 of what it received. A second
// client then joins the same agent and both ping it. Run once with
// DERP over `Upgrade: DERP` and once with DERP forced onto WebSockets
// (TS_DEBUG_DERP_WS_CLIENT, read by the coder/tailscale DERP client per dial;
// see websocketDialableDERPMap for the URL quirk of that client).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/sloghuman"

	"github.com/coder/coder/codersdk"
	"github.com/coder/coder/codersdk/agentsdk"
	"github.com/coder/coder/tailnet"

	"tailscale.com/tailcfg"
)

const (
	payloadSize = 10 << 20
	payloadPort = 5555
)

func TestPeersOverDERP(t *testing.T) {
	for _, tc := range []struct {
		name      string
		websocket bool
	}{
		{"UpgradeDERP", false},
		{"WebSocket", true},
	} {
		tc := tc
		t.Run(tc.name, func(t *testing.T) {
			if tc.websocket {
				t.Setenv("TS_DEBUG_DERP_WS_CLIENT", "true")
			}
			testPeersOverDERP(t, tc.websocket)
		})
	}
}

func testPeersOverDERP(t *testing.T, websocket bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	s := startServer(t)
	user := s.createUser(t, "alice")
	ws := s.createWorkspace(t, "alice", "peers", agentSpec{Name: "main", Auth: "token"})
	agentID := ws.Agents[0].ID

	logDir := testLogDir(t)
	agentLog := peerLogger(t, filepath.Join(logDir, "agent-peer.log"))
	clientLogPath := filepath.Join(logDir, "client-peer.log")
	clientLog := peerLogger(t, clientLogPath)

	// Agent side, built from the same pieces the v0.19.0 agent uses.
	ac := agentsdk.New(s.URL)
	ac.SDK.Logger = agentLog
	ac.SetSessionToken(ws.Agents[0].Token)
	md, err := ac.Metadata(ctx)
	if err != nil {
		t.Fatalf("agent GET /me/metadata: %v", err)
	}
	if md.DERPMap == nil || len(md.DERPMap.Regions) == 0 {
		t.Fatalf("metadata derpmap has no regions: %+v", md.DERPMap)
	}
	if websocket {
		websocketDialableDERPMap(md.DERPMap)
	}
	agentConn, err := tailnet.NewConn(&tailnet.Options{
		Addresses:      []netip.Prefix{netip.PrefixFrom(codersdk.WorkspaceAgentIP, 128)},
		DERPMap:        md.DERPMap,
		BlockEndpoints: true,
		Logger:         agentLog.Named("tailnet"),
	})
	if err != nil {
		t.Fatalf("agent tailnet.NewConn: %v", err)
	}
	defer agentConn.Close()
	coord, err := ac.Listen(ctx)
	if err != nil {
		t.Fatalf("agent GET /me/coordinate: %v", err)
	}
	defer coord.Close()
	sendNode, coordErr := tailnet.ServeCoordinator(coord, func(nodes []*tailnet.Node) error {
		return agentConn.UpdateNodes(nodes, false)
	})
	agentConn.SetNodeCallback(sendNode)

	ln, err := agentConn.Listen("tcp", ":"+itoa(payloadPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveDigest(ln)

	// Client side: the era's own dial path (connection info, coordinate, wait
	// for a disco pong).
	client := s.userClient(user.APIKey)
	if websocket {
		client.HTTPClient = &http.Client{Transport: connectionInfoRewriter{base: http.DefaultTransport}}
	}
	conn, err := client.DialWorkspaceAgent(ctx, agentID, &codersdk.DialWorkspaceAgentOptions{
		Logger:         clientLog,
		BlockEndpoints: true,
	})
	if err != nil {
		select {
		case e := <-coordErr:
			t.Logf("agent coordinate ended: %v", e)
		default:
		}
		t.Fatalf("client DialWorkspaceAgent: %v", err)
	}
	defer conn.Close()

	latency, p2p, pong, err := conn.Ping(ctx)
	if err != nil {
		t.Fatalf("ping agent over tailnet: %v", err)
	}
	if p2p {
		t.Fatalf("ping went peer-to-peer (%+v); endpoints are blocked so DERP must carry it", pong)
	}
	if pong != nil {
		t.Logf("ping %s via DERP region %d (%s)", latency, pong.DERPRegionID, pong.DERPRegionCode)
	}

	nc, err := conn.DialContext(ctx, "tcp", net.JoinHostPort(codersdk.WorkspaceAgentIP.String(), itoa(payloadPort)))
	if err != nil {
		t.Fatalf("dial agent tcp/%d over tailnet: %v", payloadPort, err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	payload := make([]byte, payloadSize)
	rand.New(rand.NewSource(7)).Read(payload)
	want := sha256.Sum256(payload)
	start := time.Now()
	if _, err := nc.Write(payload); err != nil {
		t.Fatalf("write %d bytes: %v", payloadSize, err)
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		t.Fatalf("tailnet TCP conn %T has no CloseWrite", nc)
	}
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatalf("read digest: %v", err)
	}
	elapsed := time.Since(start)
	if string(got) != hex.EncodeToString(want[:]) {
		t.Fatalf("agent received different bytes: digest %q, want %x", got, want)
	}
	t.Logf("moved %d MiB through tailnetd DERP in %s (%.1f MiB/s)", payloadSize>>20, elapsed, float64(payloadSize>>20)/elapsed.Seconds())

	// A second client of the same agent: the agent's node fans out to it and
	// its node reaches the agent while the first client stays connected.
	client2 := s.userClient(user.APIKey)
	client2.HTTPClient = client.HTTPClient
	conn2, err := client2.DialWorkspaceAgent(ctx, agentID, &codersdk.DialWorkspaceAgentOptions{
		Logger:         peerLogger(t, filepath.Join(logDir, "client2-peer.log")),
		BlockEndpoints: true,
	})
	if err != nil {
		t.Fatalf("second client DialWorkspaceAgent: %v", err)
	}
	defer conn2.Close()
	if _, _, _, err := conn2.Ping(ctx); err != nil {
		t.Fatalf("second client ping: %v", err)
	}
	if _, _, _, err := conn.Ping(ctx); err != nil {
		t.Fatalf("first client ping after the second joined: %v", err)
	}

	if websocket {
		b, _ := os.ReadFile(clientLogPath)
		if !strings.Contains(string(b), "connecting websocket to") {
			t.Fatalf("client log shows no DERP WebSocket dial")
		}
	}

	select {
	case e := <-coordErr:
		t.Fatalf("agent coordinate socket ended during the test: %v", e)
	default:
	}
}

// websocketDialableDERPMap works around the March-2023 coder/tailscale DERP
// client: when it dials DERP over WebSocket it uses the region's *first* node
// (tailnetd, like coderd, puts STUN-only nodes first) and builds the URL as
// https://<HostName>/derp, dropping DERPPort and ForceHTTP; only a node with an
// empty HostName gets <IPv4>:<DERPPort> and http. So for the forced-WebSocket
// variant the peers' maps list the relay node first and address it by IPv4.
// The relay, path and WebSocket protocol are still tailnetd's.
func websocketDialableDERPMap(m *tailcfg.DERPMap) {
	for _, r := range m.Regions {
		var relays, stun []*tailcfg.DERPNode
		for _, n := range r.Nodes {
			if n.STUNOnly {
				stun = append(stun, n)
				continue
			}
			if ip, err := netip.ParseAddr(n.HostName); err == nil && ip.Is4() {
				n.IPv4, n.HostName = n.HostName, ""
			}
			relays = append(relays, n)
		}
		r.Nodes = append(relays, stun...)
	}
}

// connectionInfoRewriter applies websocketDialableDERPMap to the DERP map of
// GET /workspaceagents/{id}/connection, leaving every other request (the
// coordinate WebSocket included) untouched.
type connectionInfoRewriter struct{ base http.RoundTripper }

func (c connectionInfoRewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := c.base.RoundTrip(req)
	if err != nil || res.StatusCode != http.StatusOK || !strings.HasSuffix(req.URL.Path, "/connection") {
		return res, err
	}
	defer res.Body.Close()
	var info codersdk.WorkspaceAgentConnectionInfo
	if err := json.NewDecoder(res.Body).Decode(&info); err != nil {
		return nil, err
	}
	if info.DERPMap != nil {
		websocketDialableDERPMap(info.DERPMap)
	}
	b, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	res.ContentLength = int64(len(b))
	res.Header.Del("Content-Length")
	return res, nil
}

// serveDigest answers each connection with the hex SHA-256 of everything
// read until the peer half-closes.
func serveDigest(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			h := sha256.New()
			if _, err := io.Copy(h, c); err != nil {
				return
			}
			_, _ = io.WriteString(c, hex.EncodeToString(h.Sum(nil)))
		}()
	}
}

func peerLogger(t *testing.T, path string) slog.Logger {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return slog.Make(sloghuman.Sink(f)).Leveled(slog.LevelDebug)
}

func itoa(i int) string { return strconv.Itoa(i) }
