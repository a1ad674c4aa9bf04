package interop

// Scenario 4: a new build supersedes the running agent. Its coordinate socket
// must be closed by tailnetd (coderd: within one connection-update tick, close
// 1001 with an empty reason) and its token must stop working for coordinate
// (403 "Agent trying to connect from non-latest build."), while the new
// build's agent token connects.

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"nhooyr.io/websocket"

	"github.com/coder/coder/codersdk"
	"github.com/coder/coder/codersdk/agentsdk"
)

func TestRebuildKicksAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s := startServer(t)
	s.createUser(t, "carol")
	spec := agentSpec{Name: "main", Auth: "token"}
	ws := s.createWorkspace(t, "carol", "rebuild", spec)
	oldToken := ws.Agents[0].Token

	// The coordinate socket exactly as the v0.19.0 agent dials it (cookie
	// jar, nhooyr.io/websocket), kept raw so the close frame can be read.
	old := dialAgentCoordinate(ctx, t, s, oldToken)
	defer old.Close(websocket.StatusNormalClosure, "")
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := old.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	// Let at least one connection-update tick pass on the old build.
	select {
	case err := <-closed:
		t.Fatalf("coordinate socket closed before any rebuild: %v", err)
	case <-time.After(1500 * time.Millisecond):
	}

	nb := s.createBuild(t, ws.WorkspaceID, spec)
	rebuiltAt := time.Now()
	if nb.Agents[0].Token == oldToken {
		t.Fatalf("new build reused the old agent token")
	}

	select {
	case err := <-closed:
		status := websocket.CloseStatus(err)
		var ce websocket.CloseError
		reason := ""
		if errors.As(err, &ce) {
			reason = ce.Reason
		}
		t.Logf("old coordinate socket closed %s after the rebuild: status %d reason %q (%v)", time.Since(rebuiltAt).Round(10*time.Millisecond), status, reason, err)
		if status != websocket.StatusGoingAway {
			t.Errorf("close status %d, want 1001 (going away) as coderd sends", status)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("old agent's coordinate socket still open 10s after a new build")
	}

	// The era's agent code path (agentsdk.Client.Listen) with the old token.
	oldClient := agentsdk.New(s.URL)
	oldClient.SetSessionToken(oldToken)
	if c, err := oldClient.Listen(ctx); err == nil {
		_ = c.Close()
		t.Fatalf("old agent token still opens /me/coordinate after a rebuild")
	} else {
		var sdkErr *codersdk.Error
		if !errors.As(err, &sdkErr) {
			t.Fatalf("old token coordinate: want an API error, got %v", err)
		}
		if sdkErr.StatusCode() != http.StatusForbidden || sdkErr.Message != "Agent trying to connect from non-latest build." {
			t.Errorf("old token coordinate: got %d %q (detail %q), want 403 %q", sdkErr.StatusCode(), sdkErr.Message, sdkErr.Detail, "Agent trying to connect from non-latest build.")
		}
	}

	newClient := agentsdk.New(s.URL)
	newClient.SetSessionToken(nb.Agents[0].Token)
	c, err := newClient.Listen(ctx)
	if err != nil {
		t.Fatalf("new build's agent token cannot open /me/coordinate: %v", err)
	}
	_ = c.Close()
}

func dialAgentCoordinate(ctx context.Context, t *testing.T, s *server, token string) *websocket.Conn {
	t.Helper()
	u, err := s.URL.Parse("/api/v2/workspaceagents/me/coordinate")
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{{Name: codersdk.SessionTokenCookie, Value: token}})
	conn, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: &http.Client{Jar: jar}})
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial /me/coordinate: %d %v", status, strings.TrimSpace(err.Error()))
	}
	return conn
}
