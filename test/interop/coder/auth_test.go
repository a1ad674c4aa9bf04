package interop

// Scenario 6: the refusals an era client can meet, decoded by its own SDK
// (codersdk.Error: status + message from the JSON envelope). Messages are
// coderd's v0.19 wording (spec §1.3, §1.4).

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"testing"
	"time"

	"github.com/google/uuid"
	"nhooyr.io/websocket"

	"github.com/coder/coder/codersdk"
	"github.com/coder/coder/codersdk/agentsdk"
)

func TestAuthRefusals(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	s := startServer(t)
	owner := s.createUser(t, "erin")
	other := s.createUser(t, "frank")
	ws := s.createWorkspace(t, "erin", "auth", agentSpec{Name: "main", Auth: "token"})
	agentID := ws.Agents[0].ID

	check := func(what string, err error, wantStatus int, wantMessage string) {
		t.Helper()
		var sdkErr *codersdk.Error
		if err == nil {
			t.Errorf("%s: succeeded, want %d %q", what, wantStatus, wantMessage)
			return
		}
		if !errors.As(err, &sdkErr) {
			t.Errorf("%s: %v is not an API error envelope", what, err)
			return
		}
		if sdkErr.StatusCode() != wantStatus || (wantMessage != "" && sdkErr.Message != wantMessage) {
			t.Errorf("%s: got %d %q (detail %q), want %d %q", what, sdkErr.StatusCode(), sdkErr.Message, sdkErr.Detail, wantStatus, wantMessage)
		}
	}

	agentWith := func(token string) *agentsdk.Client {
		c := agentsdk.New(s.URL)
		c.SetSessionToken(token)
		return c
	}
	_, err := agentWith("").Metadata(ctx)
	check("metadata without token", err, http.StatusUnauthorized, `Cookie "coder_session_token" must be provided.`)
	_, err = agentWith("not-a-uuid").Metadata(ctx)
	check("metadata with a non-UUID token", err, http.StatusUnauthorized, "Workspace agent token invalid.")
	_, err = agentWith(uuid.NewString()).Metadata(ctx)
	check("metadata with an unknown token", err, http.StatusUnauthorized, "Workspace agent not authorized.")
	_, err = agentWith(uuid.NewString()).Listen(ctx)
	check("agent coordinate with an unknown token", err, http.StatusUnauthorized, "Workspace agent not authorized.")

	_, err = s.userClient("bogus").WorkspaceAgent(ctx, agentID)
	check("GET agent with a malformed API key", err, http.StatusUnauthorized, "You are signed out or your session has expired. Please sign in again to continue.")
	_, err = s.userClient(owner.APIKey).WorkspaceAgent(ctx, uuid.New())
	check("GET unknown agent", err, http.StatusNotFound, "")
	_, err = s.userClient(other.APIKey).WorkspaceAgent(ctx, agentID)
	check("GET another user's agent", err, http.StatusNotFound, "")
	_, err = s.userClient(other.APIKey).DialWorkspaceAgent(ctx, agentID, nil)
	check("dial another user's agent (GET connection)", err, http.StatusNotFound, "")

	// The client coordinate socket of someone else's agent must be refused
	// before the upgrade, as a 404 envelope.
	u, _ := s.URL.Parse("/api/v2/workspaceagents/" + agentID.String() + "/coordinate")
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{{Name: codersdk.SessionTokenCookie, Value: other.APIKey}})
	conn, res, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPClient: &http.Client{Jar: jar}, CompressionMode: websocket.CompressionDisabled})
	if err == nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		t.Errorf("another user's client coordinate was upgraded")
	} else if res == nil || res.StatusCode != http.StatusNotFound {
		t.Errorf("another user's client coordinate: %v (response %v), want 404", err, res)
	} else {
		check("another user's client coordinate", codersdk.ReadBodyAsError(res), http.StatusNotFound, "")
	}
}
