// Package derpcoder drives a tailnetd DERP relay with the DERP client of
// Coder's Tailscale fork as of April 2023 (github.com/coder/tailscale
// 20a4fc29008d, what Coder agents and CLIs of that time shipped): the
// WebSocket fallback after a 4xx, 32-byte PeerGone parsing, string mesh
// keys, and region dialing from a DERP map built by tailnetd.
//
// Env: TAILNETD_DERP_URL (http://host:port/derp), TAILNETD_MESH_KEY,
// TAILNETD_DERP_MAP (file holding the served DERP map JSON).
package derpcoder

import (
	"bufio"
	"bytes"
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
	"tailscale.com/types/key"
)

func derpURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TAILNETD_DERP_URL")
	if u == "" {
		t.Skip("TAILNETD_DERP_URL not set")
	}
	return u
}

// proxy forwards TCP to the relay, records each request head and can
// refuse `Upgrade: DERP` the way a WebSocket-only reverse proxy does.
type proxy struct {
	ln        net.Listener
	blockDERP bool
	mu        sync.Mutex
	heads     []string
}

func newProxy(t *testing.T, blockDERP bool) *proxy {
	t.Helper()
	u, err := url.Parse(derpURL(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, blockDERP: blockDERP}
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

func (p *proxy) serve(c net.Conn, backend string) {
	defer c.Close()
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
	if p.blockDERP && strings.Contains(strings.ToLower(head.String()), "upgrade: derp\r\n") {
		body := "upgrade to DERP not allowed by this proxy"
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: "+itoa(len(body))+"\r\n\r\n"+body)
		return
	}
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	if _, err := b.Write(head.Bytes()); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, br); b.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func (p *proxy) url(t *testing.T) string {
	u, _ := url.Parse(derpURL(t))
	return "http://" + p.ln.Addr().String() + u.Path
}

func (p *proxy) allHeads() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.heads...)
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

func logf(t *testing.T, name string) func(string, ...any) {
	return func(format string, args ...any) { t.Logf(name+": "+format, args...) }
}

func newPeer(t *testing.T, name string, c *derphttp.Client, priv key.NodePrivate) *peer {
	p := &peer{t: t, name: name, priv: priv, c: c, msgs: make(chan derp.ReceivedMessage, 256), errs: make(chan error, 1)}
	t.Cleanup(func() { c.Close() })
	return p
}

func (p *peer) startRecv() {
	go func() {
		for {
			m, err := p.c.Recv()
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
}

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

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}
