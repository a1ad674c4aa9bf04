package derpcoder

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"
)

// urlPeer connects with a URL-configured client (optionally through a proxy).
func urlPeer(t *testing.T, name, serverURL string) *peer {
	t.Helper()
	priv := key.NewNode()
	c, err := derphttp.NewClient(priv, serverURL, logf(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return newPeer(t, name, c, priv)
}

func connectNow(t *testing.T, p *peer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.c.Connect(ctx)
}

// The early-2023 fork falls back to WebSockets after a 4xx on `Upgrade: DERP`
// and then talks to the relay over DERP-in-WebSocket (nhooyr.io/websocket
// v1.8.7, 32 KiB per-message read limit) with an upgrade-path peer.
func TestForcedWebSocketFallback(t *testing.T) {
	px := newProxy(t, true)
	ws := urlPeer(t, "ws-client", px.url(t))
	var forced atomic.Value
	ws.c.SetForcedWebsocketCallback(func(region int, reason string) { forced.Store(reason) })

	err := connectNow(t, ws)
	if err == nil {
		t.Fatal("first connect through a DERP-blocking proxy unexpectedly succeeded")
	}
	deadline := time.Now().Add(2 * time.Second)
	for forced.Load() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	reason, _ := forced.Load().(string)
	if !strings.Contains(reason, "GET failed with status code 403") {
		t.Fatalf("forced-websocket reason = %q", reason)
	}
	if err := connectNow(t, ws); err != nil {
		t.Fatalf("websocket reconnect: %v", err)
	}
	heads := px.allHeads()
	last := strings.ToLower(heads[len(heads)-1])
	if !strings.Contains(last, "upgrade: websocket") || !strings.Contains(last, "sec-websocket-protocol: derp") {
		t.Fatalf("second attempt was not a derp websocket:\n%s", last)
	}
	ws.startRecv()
	ws.expectServerInfo()

	up := urlPeer(t, "upgrade-client", derpURL(t))
	if err := connectNow(t, up); err != nil {
		t.Fatal(err)
	}
	up.startRecv()
	up.expectServerInfo()

	sizes := []int{1, 1400, 16 << 10, 32 << 10, 40000, derp.MaxPacketSize}
	if os.Getenv("TAILNETD_INTEROP_REFERENCE") == "derper" {
		sizes = sizes[:3] // derper neither splits nor accepts WebSocket messages > 32 KiB
	}
	for i, n := range sizes {
		a := payload(n, byte(i))
		if err := up.c.Send(ws.pub(), a); err != nil {
			t.Fatal(err)
		}
		ws.expectPacket(up.pub(), a)
		b := payload(n, byte(50+i))
		if err := ws.c.Send(up.pub(), b); err != nil {
			t.Fatal(err)
		}
		up.expectPacket(ws.pub(), b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ws.c.Ping(ctx); err != nil {
		t.Fatalf("ping over websocket: %v", err)
	}

	// This client predates the PeerGone reason byte: it must still parse it.
	up.c.Close()
	m := ws.next(5*time.Second, "PeerGone", func(m derp.ReceivedMessage) bool {
		_, ok := m.(derp.PeerGoneMessage)
		return ok
	}).(derp.PeerGoneMessage)
	if key.NodePublic(m) != up.pub() {
		t.Fatalf("PeerGone for %v, want %v", key.NodePublic(m).ShortString(), up.pub().ShortString())
	}
}

// Region dialing from tailnetd's own DERP map (embedded region: HostName,
// DERPPort, ForceHTTP, STUN-only nodes skipped), decoded by the fork's tailcfg.
func TestRegionClientFromServedMap(t *testing.T) {
	path := os.Getenv("TAILNETD_DERP_MAP")
	if path == "" {
		t.Skip("TAILNETD_DERP_MAP not set")
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dm tailcfg.DERPMap
	if err := json.Unmarshal(raw, &dm); err != nil {
		t.Fatalf("fork tailcfg cannot decode the served map: %v", err)
	}
	var region *tailcfg.DERPRegion
	for _, r := range dm.Regions {
		if r.EmbeddedRelay {
			region = r
		}
	}
	if region == nil {
		t.Fatalf("no embedded region in %s", raw)
	}
	mk := func(name string) *peer {
		priv := key.NewNode()
		c := derphttp.NewRegionClient(priv, logf(t, name), func() *tailcfg.DERPRegion { return region })
		p := newPeer(t, name, c, priv)
		if err := connectNow(t, p); err != nil {
			t.Fatalf("%s: region connect: %v", name, err)
		}
		p.startRecv()
		p.expectServerInfo()
		return p
	}
	a, b := mk("alice"), mk("bob")
	if err := a.c.Send(b.pub(), []byte("via region")); err != nil {
		t.Fatal(err)
	}
	b.expectPacket(a.pub(), []byte("via region"))
	if err := b.c.Send(a.pub(), []byte("and back")); err != nil {
		t.Fatal(err)
	}
	a.expectPacket(b.pub(), []byte("and back"))
	a.c.Close()
	b.next(5*time.Second, "PeerGone", func(m derp.ReceivedMessage) bool {
		g, ok := m.(derp.PeerGoneMessage)
		return ok && key.NodePublic(g) == a.pub()
	})
}

// The fork sends the mesh key as an arbitrary string and reads bare-key PeerPresent.
func TestMeshWatchWithStringKey(t *testing.T) {
	meshKey := os.Getenv("TAILNETD_MESH_KEY")
	if meshKey == "" {
		t.Skip("TAILNETD_MESH_KEY not set")
	}
	for _, viaWS := range []bool{false, true} {
		name := "upgrade"
		if viaWS {
			name = "websocket"
		}
		t.Run(name, func(t *testing.T) {
			target := derpURL(t)
			if viaWS {
				target = newProxy(t, true).url(t)
			}
			w := urlPeer(t, "watcher", target)
			w.c.MeshKey = meshKey
			err := connectNow(t, w)
			if viaWS {
				if err == nil {
					t.Fatal("expected the DERP-blocking proxy to refuse the first attempt")
				}
				err = connectNow(t, w)
			}
			if err != nil {
				t.Fatalf("watcher connect: %v", err)
			}
			if err := w.c.WatchConnectionChanges(); err != nil {
				t.Fatalf("WatchConnectionChanges: %v", err)
			}
			w.startRecv()
			present := func(k key.NodePublic) func(derp.ReceivedMessage) bool {
				return func(m derp.ReceivedMessage) bool {
					p, ok := m.(derp.PeerPresentMessage)
					return ok && key.NodePublic(p) == k
				}
			}
			w.next(5*time.Second, "PeerPresent(self)", present(w.pub()))
			c := urlPeer(t, "client", derpURL(t))
			if err := connectNow(t, c); err != nil {
				t.Fatal(err)
			}
			w.next(5*time.Second, "PeerPresent(client)", present(c.pub()))
			c.c.Close()
			w.next(5*time.Second, "PeerGone(client)", func(m derp.ReceivedMessage) bool {
				g, ok := m.(derp.PeerGoneMessage)
				return ok && key.NodePublic(g) == c.pub()
			})
		})
	}
}
