package interop

// Scenario (a): the current Coder agent (github.com/coder/coder/v2, API 2.7
// on /me/rpc: dRPC over yamux over WebSocket) against tailnetd. Asserted
// through tailnetd's REST API: status connected, lifecycle ready, version;
// stats rows written; the startup script's output (BatchCreateLogs) and a
// metadata result (BatchUpdateMetadata) stored — read through Coder's read
// routes when tailnetd offers them, else from its SQLite file. After a
// tailnetd restart the agent must be connected again; SIGTERM must walk the
// lifecycle to off and the status to disconnected.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	logMarker  = "v2-startup-script-ran"
	metaMarker = "v2-metadata-value-42"
)

// provisionCurrent creates a user and a workspace whose agent has a startup
// script and, if tailnetd's provisioning schema accepts it, one metadata item.
func provisionCurrent(t *testing.T, s *server, user string) (createdUser, createdBuild, bool) {
	t.Helper()
	u := s.createUser(t, user)
	spec := map[string]any{
		"name":           "main",
		"auth":           "token",
		"directory":      "~",
		"startup_script": "echo " + logMarker + "; sleep 1",
	}
	withMeta := map[string]any{}
	for k, v := range spec {
		withMeta[k] = v
	}
	withMeta["metadata"] = []map[string]any{{
		"key": "m1", "display_name": "M1", "script": "echo " + metaMarker, "interval": 1, "timeout": 5,
	}}
	b, err := s.tryCreateWorkspace(user, "dev", withMeta)
	if err == nil {
		return u, b, true
	}
	t.Logf("NOTE: provisioning an agent with \"metadata\" is refused (%v); metadata is not exercised", firstLine(err.Error()))
	return u, s.createWorkspace(t, user, "dev", spec), false
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

func TestCurrentAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()

	s := startServer(t)
	user, ws, withMeta := provisionCurrent(t, s, "carol")
	agentID := ws.Agents[0].ID
	token := ws.Agents[0].Token
	s.requireRoute(t, "/api/v2/workspaceagents/me/rpc?version=2.7", token)

	before, _, err := s.agent(ctx, user.APIKey, agentID)
	if err != nil {
		t.Fatal(err)
	}
	if before.Status != "connecting" || before.LifecycleState != "created" {
		t.Errorf("before the agent starts: status %q lifecycle %q, want connecting/created", before.Status, before.LifecycleState)
	}

	agent := startCurrentAgent(t, s, token)

	var last []byte
	eventually(t, 60*time.Second, 500*time.Millisecond, "agent connected, lifecycle ready, version reported", func() error {
		v, body, err := s.agent(ctx, user.APIKey, agentID)
		last = body
		if err != nil {
			return err
		}
		if v.Status != "connected" || v.LifecycleState != "ready" || v.Version != agentVersion {
			return fmt.Errorf("status %q lifecycle %q version %q (want connected/ready/%s)", v.Status, v.LifecycleState, v.Version, agentVersion)
		}
		return nil
	})
	t.Logf("agent as tailnetd reports it: %s", last)
	var view agentView
	_ = json.Unmarshal(last, &view)
	if view.ExpandedDirectory == "" {
		t.Errorf("expanded_directory empty after UpdateStartup: %s", last)
	}

	// Stats: the agent calls UpdateStats every report interval.
	eventually(t, 30*time.Second, time.Second, "stats row for the agent", func() error {
		rows, err := s.sqlite("SELECT count(*) AS n FROM workspace_agent_stats WHERE agent_id = ?", agentID.String())
		if err != nil {
			return err
		}
		if n, _ := rows[0]["n"].(float64); n < 1 {
			return fmt.Errorf("no workspace_agent_stats rows yet")
		}
		return nil
	})

	// Logs: Coder's read route is GET /workspaceagents/{id}/logs.
	logsPath := fmt.Sprintf("/api/v2/workspaceagents/%s/logs", agentID)
	status, body, err := s.httpGet(ctx, logsPath, user.APIKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if status == http.StatusNotFound {
		t.Logf("NOTE: GET %s → 404 %s; looking for the startup script output in SQLite instead", logsPath, body)
		eventually(t, 30*time.Second, time.Second, "startup script output stored", func() error {
			return s.findInTables("%log%", logMarker)
		})
	} else {
		eventually(t, 30*time.Second, time.Second, "startup script output via "+logsPath, func() error {
			status, body, err := s.httpGet(ctx, logsPath, user.APIKey, nil)
			if err != nil {
				return err
			}
			if status != http.StatusOK || !strings.Contains(string(body), logMarker) {
				return fmt.Errorf("%d %.300s", status, body)
			}
			return nil
		})
	}

	metaPath := fmt.Sprintf("/api/v2/workspaceagents/%s/metadata", agentID)
	status, body, err = s.httpGet(ctx, metaPath, user.APIKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("GET %s → %d %.300s", metaPath, status, body)
	if withMeta {
		eventually(t, 30*time.Second, time.Second, "metadata result stored", func() error {
			if status == http.StatusNotFound {
				return s.findInTables("%metadata%", metaMarker)
			}
			st, b, err := s.httpGet(ctx, metaPath, user.APIKey, nil)
			if err != nil {
				return err
			}
			if st != http.StatusOK || !strings.Contains(string(b), metaMarker) {
				return fmt.Errorf("%d %.300s", st, b)
			}
			return nil
		})
	}

	// Server restart: the agent redials /me/rpc and re-runs its routines.
	// A fresh last_connected_at (written only by the new connection's
	// monitor) proves the reconnect, not a status left over from before.
	s.restart(t)
	restarted := time.Now()
	eventually(t, 60*time.Second, 500*time.Millisecond, "agent connected again after a tailnetd restart", func() error {
		_, body, err := s.agent(ctx, user.APIKey, agentID)
		if err != nil {
			return err
		}
		var v struct {
			agentView
			LastConnectedAt time.Time `json:"last_connected_at"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			return err
		}
		if v.Status != "connected" || v.LifecycleState != "ready" || !v.LastConnectedAt.After(restarted.Add(time.Second)) {
			return fmt.Errorf("status %q lifecycle %q last_connected_at %s (restart at %s)", v.Status, v.LifecycleState, v.LastConnectedAt, restarted.UTC())
		}
		return nil
	})

	agent.stop(t)
	eventually(t, 20*time.Second, 500*time.Millisecond, "lifecycle off and status disconnected after SIGTERM", func() error {
		v, _, err := s.agent(context.Background(), user.APIKey, agentID)
		if err != nil {
			return err
		}
		if v.LifecycleState != "off" || v.Status != "disconnected" {
			return fmt.Errorf("status %q lifecycle %q", v.Status, v.LifecycleState)
		}
		return nil
	})
}

// findInTables looks for want in every row of the SQLite tables whose name is
// LIKE pattern (tailnetd's table names are not part of any API).
func (s *server) findInTables(pattern, want string) error {
	tables, err := s.sqlite("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?", pattern)
	if err != nil {
		return err
	}
	if len(tables) == 0 {
		return fmt.Errorf("no table LIKE %q in tailnetd's SQLite file", pattern)
	}
	var names []string
	for _, tb := range tables {
		name, _ := tb["name"].(string)
		names = append(names, name)
		rows, err := s.sqlite(`SELECT * FROM "` + strings.ReplaceAll(name, `"`, `""`) + `"`)
		if err != nil {
			return err
		}
		b, _ := json.Marshal(rows)
		if strings.Contains(string(b), want) {
			return nil
		}
	}
	return fmt.Errorf("%q not found in tables %v", want, names)
}
