package interop

// Bench (not a pass/fail test; runs only with TAILNETD_PEER_BENCH=1, driven by
// bench/peer.ts): the real agent's reconnecting PTY reached two ways in the
// same run over the same DERP relay — through tailnetd's /pty (tailnetd's TS
// tailnet peer) and through a Go tailnet.Conn client (codersdk
// DialWorkspaceAgent with endpoints blocked). Measures keystroke round trip
// (tty echo of a typed token) and bulk output throughput (base64 of random
// bytes), printed as one JSON line per path prefixed with BENCH_PEER.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/codersdk"
)

type peerBenchResult struct {
	Path        string  `json:"path"`
	RTTMedianMs float64 `json:"rtt_median_ms"`
	RTTP95Ms    float64 `json:"rtt_p95_ms"`
	Samples     int     `json:"samples"`
	BulkBytes   int     `json:"bulk_bytes"`
	BulkMBps    float64 `json:"bulk_mib_per_s"`
	OpenMs      float64 `json:"open_ms"`
}

func TestServerPeerBench(t *testing.T) {
	if os.Getenv("TAILNETD_PEER_BENCH") != "1" {
		t.Skip("bench: set TAILNETD_PEER_BENCH=1 (bench/peer.ts does)")
	}
	samples, _ := strconv.Atoi(os.Getenv("PEER_BENCH_SAMPLES"))
	if samples <= 0 {
		samples = 50
	}
	bulk, _ := strconv.Atoi(os.Getenv("PEER_BENCH_BULK_BYTES"))
	if bulk <= 0 {
		bulk = 3 << 20
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Second)
	defer cancel()

	s := startServer(t)
	user := s.createUser(t, "bench")
	ws := s.createWorkspace(t, "bench", "bench", agentSpec{Name: "main", Auth: "token", Directory: "~"})
	agentID := ws.Agents[0].ID
	client := s.userClient(user.APIKey)
	startAgent(t, s, ws.Agents[0].Token)
	eventually(t, 60*time.Second, 250*time.Millisecond, "agent connected", func() error {
		a, err := client.WorkspaceAgent(ctx, agentID)
		if err != nil {
			return err
		}
		if a.Status != codersdk.WorkspaceAgentConnected || a.DERPLatency == nil {
			return fmt.Errorf("status=%q", a.Status)
		}
		return nil
	})
	// Warm the TS path (agent node with region, first handshake).
	eventually(t, 45*time.Second, 500*time.Millisecond, "tailnetd reaches the agent", func() error {
		_, err := client.WorkspaceAgentListeningPorts(ctx, agentID)
		return err
	})

	var results []peerBenchResult
	t0 := time.Now()
	tsPty, err := client.WorkspaceAgentReconnectingPTY(ctx, agentID, uuid.New(), 40, 200, "sh")
	if err != nil {
		t.Fatalf("open /pty: %v", err)
	}
	results = append(results, benchPTY(t, "tailnetd /pty (TS peer)", tsPty, time.Since(t0), samples, bulk))
	_ = tsPty.Close()

	conn, err := client.DialWorkspaceAgent(ctx, agentID, &codersdk.DialWorkspaceAgentOptions{
		Logger:         peerLogger(t, testLogDir(t)+"/bench-go-client.log"),
		BlockEndpoints: true,
	})
	if err != nil {
		t.Fatalf("DialWorkspaceAgent: %v", err)
	}
	defer conn.Close()
	if !conn.AwaitReachable(ctx) {
		t.Fatal("Go client never reached the agent")
	}
	t0 = time.Now()
	goPty, err := conn.ReconnectingPTY(ctx, uuid.New(), 40, 200, "sh")
	if err != nil {
		t.Fatalf("Go client PTY: %v", err)
	}
	results = append(results, benchPTY(t, "Go tailnet.Conn client (direct to agent)", goPty, time.Since(t0), samples, bulk))
	_ = goPty.Close()

	for _, r := range results {
		b, _ := json.Marshal(r)
		fmt.Printf("BENCH_PEER %s\n", b)
	}
}

func benchPTY(t *testing.T, path string, c net.Conn, open time.Duration, samples, bulk int) peerBenchResult {
	t.Helper()
	send := func(data string) {
		b, _ := json.Marshal(codersdk.ReconnectingPTYRequest{Data: data})
		if _, err := c.Write(b); err != nil {
			t.Fatalf("%s: write: %v", path, err)
		}
	}
	var out bytes.Buffer
	buf := make([]byte, 64<<10)
	waitFor := func(want string, d time.Duration) {
		_ = c.SetReadDeadline(time.Now().Add(d))
		for !bytes.Contains(out.Bytes(), []byte(want)) {
			n, err := c.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				t.Fatalf("%s: waiting for %q: %v", path, want, err)
			}
		}
	}
	// Shell ready.
	send("echo ready-$((20+22))\r")
	waitFor("ready-42", 20*time.Second)
	out.Reset()

	rtts := make([]float64, 0, samples)
	for i := 0; i < samples; i++ {
		tok := fmt.Sprintf("k%dq", i)
		start := time.Now()
		send(tok)
		waitFor(tok, 10*time.Second)
		rtts = append(rtts, float64(time.Since(start).Microseconds())/1000)
		send("\x15") // kill the typed line
		out.Reset()
	}
	sort.Float64s(rtts)

	out.Reset()
	start := time.Now()
	send(fmt.Sprintf("head -c %d /dev/urandom | base64 -w 0; echo; echo bulk-done-$((3*3))\r", bulk*3/4))
	// The command line itself is echoed first; the marker's evaluated form only appears at the end.
	total := 0
	_ = c.SetReadDeadline(time.Now().Add(120 * time.Second))
	tail := []byte{}
	for !bytes.Contains(tail, []byte("bulk-done-9")) {
		n, err := c.Read(buf)
		total += n
		tail = append(tail, buf[:n]...)
		if len(tail) > 256 {
			tail = tail[len(tail)-256:]
		}
		if err != nil {
			t.Fatalf("%s: bulk: %v", path, err)
		}
	}
	el := time.Since(start)
	send("exit\r")
	return peerBenchResult{
		Path:        path,
		RTTMedianMs: rtts[len(rtts)/2],
		RTTP95Ms:    rtts[len(rtts)*95/100],
		Samples:     len(rtts),
		BulkBytes:   total,
		BulkMBps:    float64(total) / (1 << 20) / el.Seconds(),
		OpenMs:      float64(open.Microseconds()) / 1000,
	}
}
