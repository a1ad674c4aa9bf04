// Command wgpeer is the remote end of tailnetd's WireGuard interop test:
// wireguard-go's device with its gVisor netstack TUN on a real UDP socket,
// serving HTTP on port 80 and a TCP echo on port 7 inside the tunnel.
// It prints "READY <udp-port>" once up and exits when stdin closes.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"

	"golang.zx2c4.com/wireguard/conn"
	"golang.zx2c4.com/wireguard/device"
	"golang.zx2c4.com/wireguard/tun/netstack"
)

func main() {
	priv := flag.String("priv", "", "own private key, hex")
	peer := flag.String("peer", "", "peer public key, hex")
	endpoint := flag.String("endpoint", "", "peer UDP endpoint (optional)")
	addr := flag.String("addr", "fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4", "own tunnel address")
	peerAddr := flag.String("peer-addr", "fd7a:115c:a1e0:4a2b:1c3d:4e5f:6a7b:8c9d", "peer tunnel address")
	hello := flag.Bool("hello", false, "send one UDP datagram to the peer at start (Go initiates the handshake)")
	verbose := flag.Bool("v", false, "verbose wireguard-go logging")
	flag.Parse()

	tunDev, tnet, err := netstack.CreateNetTUN([]netip.Addr{netip.MustParseAddr(*addr)}, nil, 1280)
	if err != nil {
		log.Fatal(err)
	}
	level := device.LogLevelError
	if *verbose {
		level = device.LogLevelVerbose
	}
	dev := device.NewDevice(tunDev, conn.NewDefaultBind(), device.NewLogger(level, "wg: "))
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "private_key=%s\nlisten_port=0\npublic_key=%s\nallowed_ip=%s/128\n", *priv, *peer, *peerAddr)
	if *endpoint != "" {
		fmt.Fprintf(&cfg, "endpoint=%s\n", *endpoint)
	}
	if err := dev.IpcSet(cfg.String()); err != nil {
		log.Fatal(err)
	}
	if err := dev.Up(); err != nil {
		log.Fatal(err)
	}
	port := listenPort(dev)

	httpLn, err := tnet.ListenTCP(&net.TCPAddr{Port: 80})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello from wireguard-go netstack, you are %s", r.RemoteAddr)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		buf := make([]byte, n)
		for i := range buf {
			buf[i] = byte(i % 251)
		}
		w.Write(buf)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Write(body)
	})
	go http.Serve(httpLn, mux)

	echoLn, err := tnet.ListenTCP(&net.TCPAddr{Port: 7})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		for {
			c, err := echoLn.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()

	ptyLn, err := tnet.ListenTCP(&net.TCPAddr{Port: 2})
	if err != nil {
		log.Fatal(err)
	}
	go servePTYHeader(ptyLn)

	if *hello {
		go func() {
			c, err := tnet.DialUDPAddrPort(netip.AddrPort{}, netip.AddrPortFrom(netip.MustParseAddr(*peerAddr), 9))
			if err != nil {
				log.Print(err)
				return
			}
			c.Write([]byte("hello from go"))
		}()
	}

	fmt.Printf("READY %d\n", port)
	io.Copy(io.Discard, os.Stdin)
	dev.Close()
}

func listenPort(dev *device.Device) int {
	s, err := dev.IpcGet()
	if err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "listen_port="); ok {
			p, _ := strconv.Atoi(v)
			return p
		}
	}
	log.Fatal("no listen_port")
	return 0
}

// servePTYHeader reads the reconnecting-PTY init header exactly as the Coder
// agent does (one Read for the 2-byte length, one Read for the JSON), then
// reports what it parsed and echoes the rest of the stream.
func servePTYHeader(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			lenBuf := make([]byte, 2)
			n, err := c.Read(lenBuf)
			if err != nil || n != 2 {
				fmt.Fprintf(c, "short length read %d\n", n)
				return
			}
			body := make([]byte, binary.LittleEndian.Uint16(lenBuf))
			n, err = c.Read(body)
			if err != nil || n != len(body) {
				fmt.Fprintf(c, "short header read %d of %d\n", n, len(body))
				return
			}
			var init struct {
				ID      string
				Height  uint16
				Width   uint16
				Command string
			}
			if err := json.Unmarshal(body, &init); err != nil {
				fmt.Fprintf(c, "bad json: %v\n", err)
				return
			}
			fmt.Fprintf(c, "ok %s %dx%d %q\n", init.ID, init.Height, init.Width, init.Command)
			io.Copy(c, c)
		}()
	}
}
