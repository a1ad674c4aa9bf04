// Package derpinterop drives a tailnetd DERP relay with Tailscale's own Go
// DERP client (tailscale.com/derp/derphttp). The relay URL comes from
// TAILNETD_DERP_URL (http://host:port/derp), the mesh key (64 hex) from
// TAILNETD_MESH_KEY. Build with -tags ts_debug_websockets so the WebSocket
// transport is compiled in; tests switch it on per client via
// TS_DEBUG_DERP_WS_CLIENT. Tests are not parallel (the env knob is global).
package derpinterop

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"tailscale.com/derp"
	"tailscale.com/derp/derphttp"
	"tailscale.com/envknob"
	"tailscale.com/net/netmon"
	"tailscale.com/types/key"
)

const wsKnob = "TS_DEBUG_DERP_WS_CLIENT"

type transport string

const (
	viaUpgrade   transport = "upgrade"
	viaWebSocket transport = "websocket"
)

var transports = []transport{viaUpgrade, viaWebSocket}

func derpURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TAILNETD_DERP_URL")
	if u == "" {
		t.Skip("TAILNETD_DERP_URL not set")
	}
	return u
}

func meshKey(t *testing.T) key.DERPMesh {
	t.Helper()
	s := os.Getenv("TAILNETD_MESH_KEY")
	if s == "" {
		t.Skip("TAILNETD_MESH_KEY not set")
	}
	k, err := key.ParseDERPMesh(s)
	if err != nil {
		t.Fatalf("TAILNETD_MESH_KEY: %v", err)
	}
	return k
}

// sniffProxy is a TCP forwarder in front of the relay that records the
// first bytes each client sends, so a test can prove which HTTP upgrade
// (DERP or websocket) the Go client really used.
type sniffProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	heads []string
}

func newSniffProxy(t *testing.T, target string) *sniffProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &sniffProxy{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c, u.Host)
		}
	}()
	return p
}

func (p *sniffProxy) serve(c net.Conn, backend string) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	br := bufio.NewReader(c)
	var head bytes.Buffer
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil || line == "\r\n" || head.Len() > 16<<10 {
			break
		}
	}
	p.mu.Lock()
	p.heads = append(p.heads, head.String())
	p.mu.Unlock()
	if _, err := b.Write(head.Bytes()); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, br); b.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
}

func (p *sniffProxy) url(path string) string { return "http://" + p.ln.Addr().String() + path }

func (p *sniffProxy) lastHead() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.heads) == 0 {
		return ""
	}
	return p.heads[len(p.heads)-1]
}

type peer struct {
	t    *testing.T
	name string
	priv key.NodePrivate
	c    *derphttp.Client
	msgs chan derp.ReceivedMessage
	errs chan error
}

func (p *peer) pub() key.NodePublic { return p.priv.Public() }

type peerOpt func(*derphttp.Client)

func withMesh(k key.DERPMesh) peerOpt {
	return func(c *derphttp.Client) { c.MeshKey = k; c.WatchConnectionChanges = true }
}

// connect dials the relay through a sniffing proxy with the given transport,
// checks the upgrade request the client sent, and starts a receive loop.
func connect(t *testing.T, name string, tr transport, opts ...peerOpt) *peer {
	t.Helper()
	proxy := newSniffProxy(t, derpURL(t))
	u, _ := url.Parse(derpURL(t))
	priv := key.NewNode()
	c, err := derphttp.NewClient(priv, proxy.url(u.Path), func(format string, args ...any) { t.Logf(name+": "+format, args...) }, netmon.NewStatic())
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range opts {
		o(c)
	}
	if tr == viaWebSocket {
		envknob.Setenv(wsKnob, "true")
	} else {
		envknob.Setenv(wsKnob, "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("%s: connect over %s: %v", name, tr, err)
	}
	envknob.Setenv(wsKnob, "")
	head := strings.ToLower(proxy.lastHead())
	switch tr {
	case viaUpgrade:
		if !strings.Contains(head, "upgrade: derp\r\n") {
			t.Fatalf("%s: expected an Upgrade: DERP request, client sent:\n%s", name, head)
		}
	case viaWebSocket:
		if !strings.Contains(head, "upgrade: websocket\r\n") || !strings.Contains(head, "sec-websocket-protocol: derp") {
			t.Fatalf("%s: expected a websocket request with subprotocol derp, client sent:\n%s", name, head)
		}
	}
	p := &peer{t: t, name: name, priv: priv, c: c, msgs: make(chan derp.ReceivedMessage, 256), errs: make(chan error, 1)}
	go func() {
		for {
			m, err := c.Recv()
			if err != nil {
				p.errs <- err
				return
			}
			if rp, ok := m.(derp.ReceivedPacket); ok {
				// Data aliases the client's read buffer until the next Recv.
				rp.Data = bytes.Clone(rp.Data)
				m = rp
			}
			p.msgs <- m
		}
	}()
	t.Cleanup(func() { c.Close() })
	return p
}

// next waits for the next message accepted by keep (others are dropped).
func (p *peer) next(d time.Duration, what string, keep func(derp.ReceivedMessage) bool) derp.ReceivedMessage {
	p.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-p.msgs:
			if keep(m) {
				return m
			}
		case err := <-p.errs:
			p.t.Fatalf("%s: receive failed waiting for %s: %v", p.name, what, err)
		case <-deadline:
			p.t.Fatalf("%s: timed out after %v waiting for %s", p.name, d, what)
		}
	}
}

func (p *peer) expectServerInfo() {
	p.t.Helper()
	p.next(5*time.Second, "ServerInfo", func(m derp.ReceivedMessage) bool {
		_, ok := m.(derp.ServerInfoMessage)
		return ok
	})
}

func (p *peer) expectPacket(from key.NodePublic, data []byte) {
	p.t.Helper()
	m := p.next(5*time.Second, "packet", func(m derp.ReceivedMessage) bool {
		_, ok := m.(derp.ReceivedPacket)
		return ok
	}).(derp.ReceivedPacket)
	if m.Source != from {
		p.t.Fatalf("%s: packet from %v, want %v", p.name, m.Source.ShortString(), from.ShortString())
	}
	if !bytes.Equal(m.Data, data) {
		p.t.Fatalf("%s: packet of %d bytes differs from the %d bytes sent", p.name, len(m.Data), len(data))
	}
}

func (p *peer) expectClosed(d time.Duration) error {
	p.t.Helper()
	select {
	case err := <-p.errs:
		return err
	case <-time.After(d):
		p.t.Fatalf("%s: connection still open after %v", p.name, d)
	}
	return errors.New("unreachable")
}

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}
