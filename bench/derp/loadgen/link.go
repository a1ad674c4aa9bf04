// Package main is the DERP load generator used for both derper and tailnetd
// (and a raw TCP pipe relay as the ceiling), so every server sees the same
// client: Tailscale's own derp.Client from tailscale.com.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
	"tailscale.com/derp"
	"tailscale.com/net/wsconn"
	"tailscale.com/types/key"
)

// link is one relay connection: a DERP session, or a raw pipe.
type link interface {
	Send(dst key.NodePublic, pkt []byte) error
	// Recv returns the next relayed packet (other frames are skipped).
	// The slice is only valid until the next call.
	Recv() ([]byte, error)
	Close() error
}

type derpLink struct {
	c  *derp.Client
	nc net.Conn
}

func (l *derpLink) Send(dst key.NodePublic, pkt []byte) error { return l.c.Send(dst, pkt) }
func (l *derpLink) Close() error                              { return l.nc.Close() }
func (l *derpLink) Recv() ([]byte, error) {
	for {
		m, err := l.c.Recv()
		if err != nil {
			return nil, err
		}
		if p, ok := m.(derp.ReceivedPacket); ok {
			return p.Data, nil
		}
	}
}

// waitServerInfo reads until the ServerInfo frame: the session is ready.
func (l *derpLink) waitServerInfo() error {
	for {
		m, err := l.c.Recv()
		if err != nil {
			return err
		}
		if _, ok := m.(derp.ServerInfoMessage); ok {
			return nil
		}
	}
}

// rawLink speaks DERP-shaped frames (5-byte header, 32-byte key, payload)
// over a pipe relay that just copies bytes between two joined sockets.
type rawLink struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte
	in  []byte
}

func (l *rawLink) Send(dst key.NodePublic, pkt []byte) error {
	n := 5 + 32 + len(pkt)
	if cap(l.buf) < n {
		l.buf = make([]byte, n)
	}
	b := l.buf[:n]
	b[0] = 0x05
	binary.BigEndian.PutUint32(b[1:5], uint32(32+len(pkt)))
	copy(b[37:], pkt)
	_, err := l.nc.Write(b) // one write per packet, like derp.Client's flush
	return err
}

func (l *rawLink) Recv() ([]byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(l.br, h[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint32(h[1:]))
	if cap(l.in) < n {
		l.in = make([]byte, n)
	}
	b := l.in[:n]
	if _, err := io.ReadFull(l.br, b); err != nil {
		return nil, err
	}
	return b[32:], nil
}

func (l *rawLink) Close() error { return l.nc.Close() }

type transport string

const (
	tUpgrade transport = "upgrade"
	tWS      transport = "ws"
	tWSLite  transport = "ws-lite"
	tRaw     transport = "raw"
)

var dialer = net.Dialer{Timeout: 30 * time.Second}

// open connects one client. For raw, pairID names the pipe to join.
func open(ctx context.Context, tr transport, rawURL string, priv key.NodePrivate, pairID string) (link, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch tr {
	case tRaw:
		nc, err := dialer.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Fprintf(nc, "J %s\n", pairID); err != nil {
			nc.Close()
			return nil, err
		}
		// Same 4 KiB read buffer as derphttp gives derp.Client, so only the relay differs.
		return &rawLink{nc: nc, br: bufio.NewReader(nc)}, nil
	case tWSLite:
		c, err := dialWSLite(ctx, u)
		if err != nil {
			return nil, err
		}
		return newDerpLink(priv, c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)))
	case tWS:
		c, _, err := websocket.Dial(ctx, rawURL, &websocket.DialOptions{Subprotocols: []string{"derp"}})
		if err != nil {
			return nil, err
		}
		nc := wsconn.NetConn(context.Background(), c, websocket.MessageBinary, u.Host)
		return newDerpLink(priv, nc, bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc)))
	default:
		nc, err := dialer.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, err
		}
		if dl, ok := ctx.Deadline(); ok {
			nc.SetDeadline(dl)
		}
		brw := bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
		path := u.Path
		if path == "" {
			path = "/derp"
		}
		fmt.Fprintf(brw, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: Go-http-client/1.1\r\nConnection: Upgrade\r\nUpgrade: DERP\r\n\r\n", path, u.Host)
		if err := brw.Flush(); err != nil {
			nc.Close()
			return nil, err
		}
		res, err := http.ReadResponse(brw.Reader, nil)
		if err != nil {
			nc.Close()
			return nil, err
		}
		if res.StatusCode != http.StatusSwitchingProtocols {
			nc.Close()
			return nil, fmt.Errorf("upgrade: HTTP %d", res.StatusCode)
		}
		l, err := newDerpLink(priv, nc, brw)
		nc.SetDeadline(time.Time{})
		return l, err
	}
}

func newDerpLink(priv key.NodePrivate, nc net.Conn, brw *bufio.ReadWriter) (link, error) {
	c, err := derp.NewClient(priv, nc, brw, func(string, ...any) {}, derp.CanAckPings(true))
	if err != nil {
		nc.Close()
		return nil, err
	}
	l := &derpLink{c: c, nc: nc}
	if err := l.waitServerInfo(); err != nil {
		nc.Close()
		return nil, err
	}
	return l, nil
}
