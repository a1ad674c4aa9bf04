package derpinterop

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"testing"
	"time"

	"tailscale.com/derp"
	"tailscale.com/types/key"
)

// Fast start (what a TLS client does after reading the meta-certificate):
// the HTTP request and the ClientInfo frame leave in one write, no 101 is
// read, and the relay must still find ClientInfo behind the request head.
func TestFastStartPipelinedClientInfo(t *testing.T) {
	// Learn the relay's key from a normal session.
	probe := connect(t, "probe", viaUpgrade)
	probe.expectServerInfo()
	serverKey := probe.c.ServerPublicKey()
	if serverKey.IsZero() {
		t.Fatal("no server key from a normal session")
	}
	peer := connect(t, "peer", viaUpgrade)
	peer.expectServerInfo()

	u, _ := url.Parse(derpURL(t))
	nc, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	brw := bufio.NewReadWriter(bufio.NewReader(nc), bufio.NewWriter(nc))
	fmt.Fprintf(brw, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: DERP\r\nDerp-Fast-Start: 1\r\n\r\n", u.Path, u.Host)
	// Not flushed: derp.NewClient's ClientInfo write flushes both at once.
	priv := key.NewNode()
	c, err := derp.NewClient(priv, nc, brw, t.Logf, derp.ServerPublicKey(serverKey), derp.CanAckPings(true))
	if err != nil {
		t.Fatal(err)
	}
	gotInfo := false
	deadline := time.Now().Add(5 * time.Second)
	for !gotInfo && time.Now().Before(deadline) {
		m, err := c.Recv()
		if err != nil {
			t.Fatalf("fast-start session: %v", err)
		}
		switch m.(type) {
		case derp.ServerInfoMessage:
			gotInfo = true
		}
	}
	if !gotInfo {
		t.Fatal("no ServerInfo on the fast-start session")
	}
	if err := c.Send(peer.pub(), []byte("fast")); err != nil {
		t.Fatal(err)
	}
	peer.expectPacket(priv.Public(), []byte("fast"))
}
