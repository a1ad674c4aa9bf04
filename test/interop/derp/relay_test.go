package derpinterop

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/types/key"
)

// Packets of several sizes, both ways, across every transport pairing.
func TestSendRecvBothWays(t *testing.T) {
	sendRecvSizes(t, []int{1, 100, 1400, 16 << 10, 32<<10 - 5 - 32})
}

// Packets above 32 KiB up to the 64 KiB maximum. Over WebSocket the relay
// must split them into messages of at most 32 KiB (the Go library's read
// limit) and accept larger incoming messages. derper itself does neither:
// it fails this test on every WebSocket pairing.
func TestLargePackets(t *testing.T) {
	trs := transports
	if os.Getenv("TAILNETD_INTEROP_REFERENCE") == "derper" {
		trs = []transport{viaUpgrade}
	}
	sendRecvSizesOver(t, trs, []int{32 << 10, 40000, derp.MaxPacketSize})
}

func sendRecvSizes(t *testing.T, sizes []int) { sendRecvSizesOver(t, transports, sizes) }

func sendRecvSizesOver(t *testing.T, trs []transport, sizes []int) {
	for _, a := range trs {
		for _, b := range trs {
			t.Run(fmt.Sprintf("%s-to-%s", a, b), func(t *testing.T) {
				pa := connect(t, "alice", a)
				pb := connect(t, "bob", b)
				pa.expectServerInfo()
				pb.expectServerInfo()
				for i, n := range sizes {
					ab := payload(n, byte(i))
					if err := pa.c.Send(pb.pub(), ab); err != nil {
						t.Fatal(err)
					}
					pb.expectPacket(pa.pub(), ab)
					ba := payload(n, byte(100+i))
					if err := pb.c.Send(pa.pub(), ba); err != nil {
						t.Fatal(err)
					}
					pa.expectPacket(pb.pub(), ba)
				}
			})
		}
	}
}

// Ordered delivery of a burst that fits the per-client queue.
func TestBurstInOrder(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			pa := connect(t, "alice", tr)
			pb := connect(t, "bob", tr)
			pb.expectServerInfo()
			for i := 0; i < 30; i++ {
				if err := pa.c.Send(pb.pub(), []byte(fmt.Sprintf("packet-%03d", i))); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 30; i++ {
				pb.expectPacket(pa.pub(), []byte(fmt.Sprintf("packet-%03d", i)))
			}
		})
	}
}

// When a peer that has sent to us disconnects, we get PeerGone(Disconnected).
func TestPeerGoneOnDisconnect(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			pa := connect(t, "alice", tr)
			pb := connect(t, "bob", tr)
			pb.expectServerInfo()
			if err := pa.c.Send(pb.pub(), []byte("hello")); err != nil {
				t.Fatal(err)
			}
			pb.expectPacket(pa.pub(), []byte("hello"))
			pa.c.Close()
			m := pb.next(5*time.Second, "PeerGone", func(m derp.ReceivedMessage) bool {
				_, ok := m.(derp.PeerGoneMessage)
				return ok
			}).(derp.PeerGoneMessage)
			if m.Peer != pa.pub() || m.Reason != derp.PeerGoneReasonDisconnected {
				t.Fatalf("PeerGone = %v reason %d, want %v reason %d", m.Peer.ShortString(), m.Reason, pa.pub().ShortString(), derp.PeerGoneReasonDisconnected)
			}
		})
	}
}

// A disco-looking packet to an unknown key is answered with PeerGone(NotHere).
func TestPeerGoneNotHereForDisco(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			pa := connect(t, "alice", tr)
			pa.expectServerInfo()
			nobody := key.NewNode().Public()
			disco := append([]byte("TS\xf0\x9f\x92\xac"), make([]byte, 32+24)...)
			if err := pa.c.Send(nobody, disco); err != nil {
				t.Fatal(err)
			}
			m := pa.next(5*time.Second, "PeerGone(NotHere)", func(m derp.ReceivedMessage) bool {
				_, ok := m.(derp.PeerGoneMessage)
				return ok
			}).(derp.PeerGoneMessage)
			if m.Peer != nobody || m.Reason != derp.PeerGoneReasonNotHere {
				t.Fatalf("PeerGone = %v reason %d, want %v NotHere", m.Peer.ShortString(), m.Reason, nobody.ShortString())
			}
		})
	}
}

// Client Ping gets the relay's Pong (derphttp matches and consumes it).
func TestPingPong(t *testing.T) {
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			pa := connect(t, "alice", tr)
			pa.expectServerInfo()
			for i := 0; i < 3; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := pa.c.Ping(ctx)
				cancel()
				if err != nil {
					t.Fatalf("ping %d: %v", i, err)
				}
			}
			// A raw Ping whose Pong nobody registered surfaces as a PongMessage.
			var data [8]byte
			rand.Read(data[:])
			if err := pa.c.SendPing(data); err != nil {
				t.Fatal(err)
			}
			m := pa.next(5*time.Second, "Pong", func(m derp.ReceivedMessage) bool {
				_, ok := m.(derp.PongMessage)
				return ok
			}).(derp.PongMessage)
			if [8]byte(m) != data {
				t.Fatalf("pong %x, want %x", m, data)
			}
		})
	}
}

// A mesh-key watcher sees PeerPresent for itself and for clients, then PeerGone.
// Upgrade transport only: upstream derphttp never sends WatchConns on its
// WebSocket path (the Coder-fork module covers mesh over WebSocket).
func TestWatchConnsWithMeshKey(t *testing.T) {
	mk := meshKey(t)
	for _, tr := range []transport{viaUpgrade} {
		t.Run(string(tr), func(t *testing.T) {
			w := connect(t, "watcher", tr, withMesh(mk))
			isPresent := func(k key.NodePublic) func(derp.ReceivedMessage) bool {
				return func(m derp.ReceivedMessage) bool {
					p, ok := m.(derp.PeerPresentMessage)
					return ok && p.Key == k
				}
			}
			w.next(5*time.Second, "PeerPresent(self)", isPresent(w.pub()))
			c := connect(t, "client", tr)
			pm := w.next(5*time.Second, "PeerPresent(client)", isPresent(c.pub())).(derp.PeerPresentMessage)
			if pm.Flags&derp.PeerPresentIsRegular == 0 {
				t.Errorf("PeerPresent flags %#x lack IsRegular", pm.Flags)
			}
			if !pm.IPPort.Addr().IsLoopback() {
				t.Errorf("PeerPresent IPPort %v, want the client's loopback address", pm.IPPort)
			}
			c.c.Close()
			w.next(5*time.Second, "PeerGone(client)", func(m derp.ReceivedMessage) bool {
				g, ok := m.(derp.PeerGoneMessage)
				return ok && g.Peer == c.pub()
			})
		})
	}
}

// WatchConns without the mesh key closes the connection.
func TestWatchConnsWithoutMeshKeyIsRejected(t *testing.T) {
	for _, tr := range []transport{viaUpgrade} {
		t.Run(string(tr), func(t *testing.T) {
			p := connect(t, "intruder", tr, func(c *derphttp.Client) { c.WatchConnectionChanges = true })
			if err := p.expectClosed(5 * time.Second); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
}

// Plain GET /derp → 426; latency-check and probe → 200; generate_204 echoes the challenge.
func TestHTTPEndpoints(t *testing.T) {
	u, err := url.Parse(derpURL(t))
	if err != nil {
		t.Fatal(err)
	}
	base := u.Scheme + "://" + u.Host
	get := func(path string, hdr map[string]string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	if res, body := get(u.Path, nil); res.StatusCode != http.StatusUpgradeRequired || !strings.Contains(body, "DERP requires connection upgrade") {
		t.Errorf("GET %s = %d %q, want 426 DERP requires connection upgrade", u.Path, res.StatusCode, body)
	}
	for _, p := range []string{"/derp/latency-check", "/derp/probe"} {
		if res, _ := get(p, nil); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, res.StatusCode)
		}
	}
	res, _ := get("/generate_204", map[string]string{"X-Tailscale-Challenge": "ts_derp99b.example.com"})
	if res.StatusCode != http.StatusNoContent || res.Header.Get("X-Tailscale-Response") != "response ts_derp99b.example.com" {
		t.Errorf("generate_204 = %d %q", res.StatusCode, res.Header.Get("X-Tailscale-Response"))
	}
}
