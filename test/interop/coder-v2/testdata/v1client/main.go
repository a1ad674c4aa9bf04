// Command v1client is the 2023-era client side of the mixed-era scenario: it
// is compiled inside ../../coder (module github.com/coder/coder v0.19.0,
// GOTOOLCHAIN go1.20.14) through `go build -overlay`, so that module's tree
// stays untouched. It lives under testdata/ so the coder-v2 module ignores it.
//
// It dials the agent with codersdk.Client.DialWorkspaceAgent (v1 JSON client
// coordinate, BlockEndpoints), pings the agent's tailnet address, sends
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
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"time"

	"cdr.dev/slog"
	"cdr.dev/slog/sloggers/sloghuman"
	"github.com/google/uuid"

	"github.com/coder/coder/codersdk"
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
	conn, err := client.DialWorkspaceAgent(ctx, agentID, &codersdk.DialWorkspaceAgentOptions{Logger: logger, BlockEndpoints: true})
	if err != nil {
		r.Error = "DialWorkspaceAgent: " + err.Error()
		return
	}
	defer conn.Close()
	if !conn.Conn.AwaitReachable(ctx, ip) {
		r.Error = fmt.Sprintf("agent address %s not reachable: %v", ip, ctx.Err())
		return
	}
	_, p2p, pong, err := conn.Conn.Ping(ctx, ip)
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
	tcp, err := conn.Conn.DialContextTCP(ctx, netip.AddrPortFrom(ip, uint16(port)))
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
