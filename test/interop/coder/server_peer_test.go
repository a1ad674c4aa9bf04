package interop

// Scenario: tailnetd itself on the tailnet (src/peer). The real v0.19.0 agent
// connects; then only tailnetd's own routes are used, through the era's
// codersdk client: GET /workspaceagents/{id}/listening-ports must list a port
// the test opened on the agent's host (tailnetd dials agent port 4 over its
// in-process DERP session and WireGuard), and GET /workspaceagents/{id}/pty
// must run `sh`, echo a marker typed as {"data":...} JSON, and replay the
// agent's buffer when reattached with the same reconnect id.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/coder/coder/codersdk"
)

func TestServerPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	portLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer portLn.Close()
	listenPort := uint16(portLn.Addr().(*net.TCPAddr).Port)
	// A port one of the agent's apps uses: tailnetd must leave it out, as coderd does.
	appLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer appLn.Close()
	appPort := uint16(appLn.Addr().(*net.TCPAddr).Port)

	s := startServer(t)
	user := s.createUser(t, "carol")
	ws := s.createWorkspace(t, "carol", "peer", agentSpec{Name: "main", Auth: "token", Directory: "~", Apps: []appSpec{{
		Slug: "app", DisplayName: "App", URL: fmt.Sprintf("http://127.0.0.1:%d/", appPort),
	}}})
	agentID := ws.Agents[0].ID
	client := s.userClient(user.APIKey)

	// Before the agent runs: the status gate answers 400 with coderd's text.
	_, err = client.WorkspaceAgentListeningPorts(ctx, agentID)
	var sdkErr *codersdk.Error
	if !errors.As(err, &sdkErr) || sdkErr.StatusCode() != http.StatusBadRequest || sdkErr.Message != `Agent state is "connecting", it must be in the "connected" state.` {
		t.Fatalf("listening-ports before the agent connects: %v, want 400 status text", err)
	}

	agent := startAgent(t, s, ws.Agents[0].Token)
	eventually(t, 60*time.Second, 250*time.Millisecond, "agent connected", func() error {
		a, err := client.WorkspaceAgent(ctx, agentID)
		if err != nil {
			return err
		}
		if a.Status != codersdk.WorkspaceAgentConnected {
			return fmt.Errorf("status=%q", a.Status)
		}
		return nil
	})

	// listening-ports through tailnetd's own tailnet peer. The agent's node may
	// still lack its DERP region right after connecting, hence eventually.
	var firstPorts time.Duration
	start := time.Now()
	eventually(t, 45*time.Second, 500*time.Millisecond, "tailnetd lists the test's port", func() error {
		t0 := time.Now()
		sp, err := client.WorkspaceAgentListeningPorts(ctx, agentID)
		if err != nil {
			return err
		}
		found := false
		for _, p := range sp.Ports {
			if p.Port == appPort {
				return fmt.Errorf("ports %+v include the app's port %d", sp.Ports, appPort)
			}
			if p.Port < 9 {
				return fmt.Errorf("ports %+v include port %d < 9", sp.Ports, p.Port)
			}
			if p.Port == listenPort && p.Network == "tcp" {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("ports %+v lack tcp/%d", sp.Ports, listenPort)
		}
		firstPorts = time.Since(t0)
		return nil
	})
	t.Logf("listening-ports via tailnetd: ready %s after the agent connected; successful call took %s", time.Since(start).Round(time.Millisecond), firstPorts.Round(time.Millisecond))

	// A second call reuses the pooled session (no new handshake).
	t0 := time.Now()
	res, err := client.Request(ctx, http.MethodGet, fmt.Sprintf("/api/v2/workspaceagents/%s/listening-ports", agentID), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte(`{"ports":[`)) {
		t.Fatalf("listening-ports raw: %d %s", res.StatusCode, body)
	}
	t.Logf("listening-ports warm call: %s", time.Since(t0).Round(time.Millisecond))

	// Reconnecting PTY through tailnetd's /pty WebSocket.
	id := uuid.New()
	t0 = time.Now()
	pty, err := client.WorkspaceAgentReconnectingPTY(ctx, agentID, id, 24, 80, "sh")
	if err != nil {
		t.Fatalf("open /pty: %v", err)
	}
	marker := "tailnetd-peer-marker-" + fmt.Sprint(time.Now().UnixNano()%100000)
	typeInto(t, pty, "echo "+marker+"-$((6*7))\r")
	out := readUntil(t, pty, marker+"-42", 20*time.Second)
	t.Logf("PTY via tailnetd: marker back %s after opening the WebSocket (%d bytes)", time.Since(t0).Round(time.Millisecond), len(out))
	_ = pty.Close()

	// Reattach with the same id: the agent replays its buffer (the marker).
	pty2, err := client.WorkspaceAgentReconnectingPTY(ctx, agentID, id, 24, 80, "")
	if err != nil {
		t.Fatalf("reopen /pty: %v", err)
	}
	replay := readUntil(t, pty2, marker+"-42", 20*time.Second)
	t.Logf("reattach replayed %d bytes including the marker", len(replay))
	// And it is live: a second command in the same shell.
	typeInto(t, pty2, "echo second-$((5*5))\r")
	readUntil(t, pty2, "second-25", 20*time.Second)
	typeInto(t, pty2, "exit\r")
	_ = pty2.Close()

	// The agent restarts (new node key): tailnetd follows the new node to a new session.
	agent.stop(t)
	agent = startAgent(t, s, ws.Agents[0].Token)
	restarted := time.Now()
	eventually(t, 60*time.Second, 500*time.Millisecond, "PTY through tailnetd after an agent restart", func() error {
		c, err := client.WorkspaceAgentReconnectingPTY(ctx, agentID, uuid.New(), 24, 80, "sh")
		if err != nil {
			return err
		}
		defer c.Close()
		b, _ := json.Marshal(codersdk.ReconnectingPTYRequest{Data: "echo again-$((2*4))\r"})
		if _, err := c.Write(b); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var out bytes.Buffer
		buf := make([]byte, 4096)
		for !bytes.Contains(out.Bytes(), []byte("again-8")) {
			n, err := c.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return fmt.Errorf("%v after %q", err, out.String())
			}
		}
		return nil
	})
	t.Logf("PTY via tailnetd works again %s after the agent restarted", time.Since(restarted).Round(time.Millisecond))

	// A bad reconnect id is refused before the upgrade with coderd's text.
	bad, _ := client.URL.Parse(fmt.Sprintf("/api/v2/workspaceagents/%s/pty?reconnect=nope", agentID))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, bad.String(), nil)
	req.Header.Set(codersdk.SessionTokenHeader, user.APIKey)
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := io.ReadAll(r2.Body)
	_ = r2.Body.Close()
	if r2.StatusCode != http.StatusBadRequest || !strings.Contains(string(b2), "Query param 'reconnect' must be a valid UUID.") {
		t.Fatalf("bad reconnect: %d %s", r2.StatusCode, b2)
	}
}

func typeInto(t *testing.T, c net.Conn, data string) {
	t.Helper()
	b, err := json.Marshal(codersdk.ReconnectingPTYRequest{Data: data})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatalf("write PTY input: %v", err)
	}
}

func readUntil(t *testing.T, c net.Conn, want string, d time.Duration) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	var out bytes.Buffer
	buf := make([]byte, 4096)
	for !bytes.Contains(out.Bytes(), []byte(want)) {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			t.Fatalf("PTY output without %q (%v): %q", want, err, out.String())
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	return out.Bytes()
}
