// Command v1client is the 2023-era client side of the mixed-era scenario: it
// is compiled inside ../../coder (module github.com/coder/coder v0.19.0,
// GOTOOLCHAIN go1.20.14) through `go build -overlay`, so that module's tree
// stays untouched. It lives under testdata/ so the coder-v2 module ignores it.
//
// It dials the agent the way v0.19.0's codersdk.Client.DialWorkspaceAgent does
// (GET /{agent}/connection, tailnet.NewConn with BlockEndpoints, v1 JSON
// /{agent}/coordinate with the session cookie, tailnet.ServeCoordinator) but
// without its final wait for the fixed legacy agent address, which a current
// agent does not own; then it pings the agent's tailnet address, sends
// V1_BYTES random bytes to V1_TARGET's port over tailnet TCP and expects the
// same bytes back (the harness runs an echo server there), then prints one
// line "RESULT {json}" on stdout. Environment: V1_URL, V1_API_KEY,
// V1_AGENT_ID, V1_TARGET_IP (the agent address to dial; the v0.19 SDK would
// use the fixed legacy address), V1_TARGET_PORT, V1_BYTES.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"time"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/sloghuman"
	"github.com/google/uuid"

	"nhooyr.io/websocket"

	"github.com/coder/coder/codersdk"
	"github.com/coder/coder/tailnet"
)

type result struct {
	Pinged   bool   `json:"pinged"`
	P2P      bool   `json:"p2p"`
	Via      string `json:"via"`
	Bytes    int    `json:"bytes"`
	SHA256   string `json:"sha256"`
	EchoedOK bool   `json:"echoed_ok"`
	Error    string `json:"error,omitempty"`
}

func main() {
	r := run()
	b, _ := json.Marshal(r)
	fmt.Printf("RESULT %s\n", b)
	if r.Error != "" {
		os.Exit(1)
	}
}

func run() (r result) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	u, err := url.Parse(os.Getenv("V1_URL"))
	if err != nil {
		r.Error = err.Error()
		return
	}
	agentID, err := uuid.Parse(os.Getenv("V1_AGENT_ID"))
	if err != nil {
		r.Error = err.Error()
		return
	}
	ip, err := netip.ParseAddr(os.Getenv("V1_TARGET_IP"))
	if err != nil {
		r.Error = err.Error()
		return
	}
	port, _ := strconv.Atoi(os.Getenv("V1_TARGET_PORT"))
	n, _ := strconv.Atoi(os.Getenv("V1_BYTES"))
	logger := slog.Make(sloghuman.Sink(os.Stderr)).Leveled(slog.LevelDebug)

	client := codersdk.New(u)
	client.SetSessionToken(os.Getenv("V1_API_KEY"))
	conn, err := dialV1(ctx, client, agentID, logger)
	if err != nil {
		r.Error = err.Error()
		return
	}
	defer conn.Close()
	if !conn.AwaitReachable(ctx, ip) {
		r.Error = fmt.Sprintf("agent address %s not reachable: %v", ip, ctx.Err())
		return
	}
	_, p2p, pong, err := conn.Ping(ctx, ip)
	if err != nil {
		r.Error = "ping: " + err.Error()
		return
	}
	r.Pinged, r.P2P = true, p2p
	if pong != nil {
		r.Via = pong.DERPRegionCode
		if pong.Endpoint != "" {
			r.Via = pong.Endpoint
		}
	}
	tcp, err := conn.DialContextTCP(ctx, netip.AddrPortFrom(ip, uint16(port)))
	if err != nil {
		r.Error = "dial tcp: " + err.Error()
		return
	}
	defer tcp.Close()
	payload := make([]byte, n)
	_, _ = rand.Read(payload)
	sum := sha256.Sum256(payload)
	r.Bytes, r.SHA256 = n, hex.EncodeToString(sum[:])
	_ = tcp.SetDeadline(time.Now().Add(60 * time.Second))
	go func() { _, _ = tcp.Write(payload) }()
	got := make([]byte, n)
	if _, err := io.ReadFull(tcp, got); err != nil {
		r.Error = "read echo: " + err.Error()
		return
	}
	r.EchoedOK = bytes.Equal(got, payload)
	if !r.EchoedOK {
		r.Error = "echoed bytes differ"
	}
	return
}

// dialV1 connects a tailnet.Conn to the agent through the v1 JSON client
// coordinator, as the v0.19.0 SDK does (one coordinate socket, redialled
// on error until ctx ends).
func dialV1(ctx context.Context, client *codersdk.Client, agentID uuid.UUID, logger slog.Logger) (*tailnet.Conn, error) {
	res, err := client.Request(ctx, http.MethodGet, fmt.Sprintf("/api/v2/workspaceagents/%s/connection", agentID), nil)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, codersdk.ReadBodyAsError(res)
	}
	var info codersdk.WorkspaceAgentConnectionInfo
	if err := json.NewDecoder(res.Body).Decode(&info); err != nil {
		return nil, fmt.Errorf("decode connection info: %w", err)
	}
	conn, err := tailnet.NewConn(&tailnet.Options{
		Addresses:      []netip.Prefix{netip.PrefixFrom(tailnet.IP(), 128)},
		DERPMap:        info.DERPMap,
		Logger:         logger,
		BlockEndpoints: true,
	})
	if err != nil {
		return nil, fmt.Errorf("tailnet.NewConn: %w", err)
	}
	coordURL, _ := client.URL.Parse(fmt.Sprintf("/api/v2/workspaceagents/%s/coordinate", agentID))
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(coordURL, []*http.Cookie{{Name: codersdk.SessionTokenCookie, Value: client.SessionToken()}})
	httpClient := &http.Client{Jar: jar}
	go func() {
		for ctx.Err() == nil {
			ws, _, err := websocket.Dial(ctx, coordURL.String(), &websocket.DialOptions{HTTPClient: httpClient, CompressionMode: websocket.CompressionDisabled})
			if err != nil {
				logger.Debug(ctx, "coordinate dial failed", slog.Error(err))
				time.Sleep(200 * time.Millisecond)
				continue
			}
			sendNode, errCh := tailnet.ServeCoordinator(websocket.NetConn(ctx, ws, websocket.MessageBinary), func(nodes []*tailnet.Node) error {
				return conn.UpdateNodes(nodes, false)
			})
			conn.SetNodeCallback(sendNode)
			err = <-errCh
			logger.Debug(ctx, "coordinate socket ended", slog.Error(err))
			_ = ws.Close(websocket.StatusGoingAway, "")
		}
	}()
	return conn, nil
}
