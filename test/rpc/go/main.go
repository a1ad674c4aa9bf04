// rpcharness is a Go client that speaks Coder's v2 transport stack
// (WebSocket → yamux client → one drpcconn per yamux stream) against a
// tailnetd test server, using the same libraries as Coder. It prints one
// "OK <check>" line per passed check and exits non-zero on the first failure.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/hashicorp/yamux"
	nhooyr "nhooyr.io/websocket"
	"storj.io/drpc"
	"storj.io/drpc/drpcconn"
	"storj.io/drpc/drpcerr"
)

// rawEncoding passes *[]byte messages through unchanged; the test methods
// exchange a one-field protobuf message {1: string} built by hand.
type rawEncoding struct{}

func (rawEncoding) Marshal(msg drpc.Message) ([]byte, error) { return *(msg.(*[]byte)), nil }
func (rawEncoding) Unmarshal(buf []byte, msg drpc.Message) error {
	*(msg.(*[]byte)) = append([]byte(nil), buf...)
	return nil
}

var enc rawEncoding

func str(s string) []byte {
	b := []byte{0x0a}
	n := len(s)
	for n >= 0x80 {
		b = append(b, byte(n&0x7f|0x80))
		n >>= 7
	}
	b = append(b, byte(n))
	return append(b, s...)
}

func unstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	i, n, shift := 1, 0, 0
	for {
		c := b[i]
		i++
		n |= int(c&0x7f) << shift
		shift += 7
		if c < 0x80 {
			break
		}
	}
	return string(b[i : i+n])
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "FAIL "+format+"\n", args...)
	os.Exit(1)
}

func ok(name string) { fmt.Println("OK " + name) }

// conn opens a fresh yamux stream per RPC, as codersdk/drpcsdk's multiplexed conn does.
func conn(sess *yamux.Session) *drpcconn.Conn {
	st, err := sess.Open()
	if err != nil {
		fail("open stream: %v", err)
	}
	return drpcconn.New(st)
}

func unary(ctx context.Context, sess *yamux.Session, method string, in []byte) ([]byte, error) {
	c := conn(sess)
	defer c.Close()
	var out []byte
	err := c.Invoke(ctx, method, enc, &in, &out)
	return out, err
}

func main() {
	url := flag.String("url", "", "ws:// URL of the test server")
	mode := flag.String("mode", "echo", "echo: generic dRPC checks; coder: Coder's generated clients and types")
	wsLib := flag.String("ws", "coder", "coder: github.com/coder/websocket v1.8.14; nhooyr: nhooyr.io/websocket v1.8.7 (32 KiB read limit inside NetConn, as Coder clients until mid-2024)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var nc net.Conn
	var closeWS func()
	if *wsLib == "nhooyr" {
		ws, _, err := nhooyr.Dial(ctx, *url, &nhooyr.DialOptions{CompressionMode: nhooyr.CompressionDisabled})
		if err != nil {
			fail("dial: %v", err)
		}
		// No SetReadLimit: v1.8.7's NetConn keeps the 32768-byte default per message.
		nc = nhooyr.NetConn(context.Background(), ws, nhooyr.MessageBinary)
		closeWS = func() { _ = ws.Close(nhooyr.StatusNormalClosure, "") }
	} else {
		ws, _, err := websocket.Dial(ctx, *url, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			fail("dial: %v", err)
		}
		ws.SetReadLimit(4 << 20)
		nc = websocket.NetConn(context.Background(), ws, websocket.MessageBinary)
		closeWS = func() { _ = ws.Close(websocket.StatusNormalClosure, "") }
	}
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = io.Discard
	sess, err := yamux.Client(nc, cfg)
	if err != nil {
		fail("yamux client: %v", err)
	}

	if *mode == "coder" {
		runCoder(ctx, sess)
		_ = sess.Close()
		fmt.Println("DONE")
		return
	}

	// 1. unary
	out, err := unary(ctx, sess, "/test.Echo/Unary", str("hello"))
	if err != nil || unstr(out) != "echo:hello" {
		fail("unary: %q %v", out, err)
	}
	ok("unary")

	// 2. unknown method → drpcerr code 12 (what Coder's IsDRPCUnimplementedError checks)
	_, err = unary(ctx, sess, "/coder.agent.v2.Agent/NoSuchThing", nil)
	if err == nil || drpcerr.Code(err) != 12 {
		fail("unimplemented: code %d err %v", drpcerr.Code(err), err)
	}
	ok("unimplemented-code-12")

	// 3. handler error text and code 0
	_, err = unary(ctx, sess, "/test.Echo/Fail", str(""))
	if err == nil || drpcerr.Code(err) != 0 || !strings.Contains(err.Error(), "boom") {
		fail("handler error: %v", err)
	}
	ok("handler-error")

	// 4. server streaming
	{
		c := conn(sess)
		st, err := c.NewStream(ctx, "/test.Echo/Count", enc)
		if err != nil {
			fail("count stream: %v", err)
		}
		req := str("5")
		if err := st.MsgSend(&req, enc); err != nil {
			fail("count send: %v", err)
		}
		if err := st.CloseSend(); err != nil {
			fail("count closesend: %v", err)
		}
		var got []string
		for {
			var m []byte
			if err := st.MsgRecv(&m, enc); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				fail("count recv: %v", err)
			}
			got = append(got, unstr(m))
		}
		if strings.Join(got, ",") != "0,1,2,3,4" {
			fail("count: %v", got)
		}
		_ = c.Close()
		ok("server-stream")
	}

	// 5. bidirectional streaming (Coordinate's shape)
	{
		c := conn(sess)
		st, err := c.NewStream(ctx, "/test.Echo/Bidi", enc)
		if err != nil {
			fail("bidi stream: %v", err)
		}
		for _, w := range []string{"a", "bc", "def"} {
			m := str(w)
			if err := st.MsgSend(&m, enc); err != nil {
				fail("bidi send: %v", err)
			}
			var r []byte
			if err := st.MsgRecv(&r, enc); err != nil {
				fail("bidi recv: %v", err)
			}
			if unstr(r) != strings.ToUpper(w) {
				fail("bidi: got %q", unstr(r))
			}
		}
		if err := st.CloseSend(); err != nil {
			fail("bidi closesend: %v", err)
		}
		var r []byte
		if err := st.MsgRecv(&r, enc); !errors.Is(err, io.EOF) {
			fail("bidi end: %v", err)
		}
		_ = c.Close()
		ok("bidi-stream")
	}

	// 6. large request and response (> 256 KiB yamux window each way)
	{
		big := strings.Repeat("z", 1<<20)
		out, err := unary(ctx, sess, "/test.Echo/Unary", str(big))
		if err != nil || unstr(out) != "echo:"+big {
			fail("big unary: len %d %v", len(out), err)
		}
		ok("large-messages")
	}

	// 7. many concurrent RPCs, each on its own yamux stream
	{
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				w := fmt.Sprintf("n%d", i)
				out, err := unary(ctx, sess, "/test.Echo/Unary", str(w))
				if err != nil {
					errs <- err
				} else if !bytes.Equal([]byte(unstr(out)), []byte("echo:"+w)) {
					errs <- fmt.Errorf("got %q", unstr(out))
				}
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			fail("concurrent: %v", err)
		}
		ok("concurrent")
	}

	// 8. yamux ping answered by the server
	if _, err := sess.Ping(); err != nil {
		fail("ping: %v", err)
	}
	ok("ping")

	// 9. cancelling a streaming RPC context tears down its transport; the server sees it
	{
		cctx, ccancel := context.WithCancel(ctx)
		c := conn(sess)
		st, err := c.NewStream(cctx, "/test.Echo/Stall", enc)
		if err != nil {
			fail("stall: %v", err)
		}
		m := str("x")
		if err := st.MsgSend(&m, enc); err != nil {
			fail("stall send: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
		ccancel()
		_ = c.Close()
		out, err := unary(ctx, sess, "/test.Echo/StallCancelled", nil)
		if err != nil || unstr(out) != "yes" {
			fail("stall cancelled: %q %v", unstr(out), err)
		}
		ok("cancel")
	}

	// 10. every finished RPC's yamux stream was closed on both sides: only this call's stream is open
	{
		time.Sleep(100 * time.Millisecond)
		out, err := unary(ctx, sess, "/test.Echo/OpenStreams", nil)
		if err != nil || unstr(out) != "1" {
			fail("open streams: %q %v", unstr(out), err)
		}
		// The server's FIN for the call above arrives asynchronously.
		for i := 0; i < 100 && sess.NumStreams() != 0; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		if n := sess.NumStreams(); n != 0 {
			fail("client streams left: %d", n)
		}
		ok("streams-closed")
	}

	// Give the server's keepalive a chance to ping us before hanging up.
	time.Sleep(300 * time.Millisecond)
	_ = sess.Close()
	closeWS()
	fmt.Println("DONE")
}
