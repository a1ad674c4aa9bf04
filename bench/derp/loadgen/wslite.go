package main

// wsLite is a minimal WebSocket client connection (RFC 6455, subprotocol
// "derp") for the "ws-lite" transport: one masked binary message per Write,
// server messages streamed by Read, no per-message allocation. The real Go
// client (coder/websocket under tailscale.com/net/wsconn, the "ws" transport)
// spends more CPU per message than the relays under test do, so on this box it
// caps what D8 can show; this one costs about what the Upgrade transport's raw
// TCP writes cost, so D8 measures the servers' WebSocket path.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

type wsLite struct {
	net.Conn
	br *bufio.Reader

	wmu  sync.Mutex
	wbuf []byte
	mask [4]byte

	left   int64 // unread payload bytes of the current data frame
	closed bool
}

func dialWSLite(ctx context.Context, u *url.URL) (*wsLite, error) {
	nc, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	var kb [16]byte
	rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	path := u.Path
	if path == "" {
		path = "/derp"
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: derp\r\n\r\n", path, u.Host, key)
	if _, err := io.WriteString(nc, req); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	sum := sha1.Sum([]byte(key + wsGUID))
	if res.StatusCode != http.StatusSwitchingProtocols || res.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		nc.Close()
		return nil, fmt.Errorf("websocket upgrade: HTTP %d", res.StatusCode)
	}
	c := &wsLite{Conn: nc, br: br}
	rand.Read(c.mask[:])
	return c, nil
}

// Write sends p as one masked binary message (derp.Client writes one flush at a time).
func (c *wsLite) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(p), c.writeFrame(0x2, p)
}

func (c *wsLite) writeFrame(op byte, p []byte) error {
	n := len(p)
	h := 2 + 4
	switch {
	case n >= 1<<16:
		h += 8
	case n >= 126:
		h += 2
	}
	if cap(c.wbuf) < h+n {
		c.wbuf = make([]byte, h+n)
	}
	b := c.wbuf[:h+n]
	b[0] = 0x80 | op
	switch {
	case n >= 1<<16:
		b[1] = 0x80 | 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	case n >= 126:
		b[1] = 0x80 | 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b[1] = 0x80 | byte(n)
	}
	copy(b[h-4:], c.mask[:])
	out := b[h:]
	copy(out, p)
	// XOR eight bytes at a time, then the tail.
	m := uint64(binary.LittleEndian.Uint32(c.mask[:]))
	m |= m << 32
	i := 0
	for ; i+8 <= n; i += 8 {
		binary.LittleEndian.PutUint64(out[i:], binary.LittleEndian.Uint64(out[i:])^m)
	}
	for ; i < n; i++ {
		out[i] ^= c.mask[i&3]
	}
	_, err := c.Conn.Write(b)
	return err
}

// Read returns payload bytes of binary messages in order; pings are answered, a close ends the stream.
func (c *wsLite) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.closed {
			return 0, io.EOF
		}
		if err := c.readHeader(); err != nil {
			return 0, err
		}
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.br.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *wsLite) readHeader() error {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return err
	}
	if h[1]&0x80 != 0 {
		return errors.New("websocket: masked server frame")
	}
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		var e [2]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint16(e[:]))
	case 127:
		var e [8]byte
		if _, err := io.ReadFull(c.br, e[:]); err != nil {
			return err
		}
		n = int64(binary.BigEndian.Uint64(e[:]))
	}
	switch op := h[0] & 0x0f; op {
	case 0x0, 0x2: // continuation or binary: stream it
		c.left = n
		return nil
	case 0x9, 0xa, 0x8: // ping, pong, close
		payload := make([]byte, n)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return err
		}
		c.wmu.Lock()
		defer c.wmu.Unlock()
		switch op {
		case 0x9:
			return c.writeFrame(0xa, payload)
		case 0x8:
			c.closed = true
			return c.writeFrame(0x8, payload)
		}
		return nil
	default:
		return fmt.Errorf("websocket: unexpected opcode %d", op)
	}
}
