package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"tailscale.com/types/key"
)

// Usage: loadgen <throughput|latency|latency-rr|idle|storm> [flags]; prints one JSON value.
func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen throughput|latency|idle|storm [flags]")
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	u := fs.String("url", "http://127.0.0.1:3340/derp", "relay URL")
	tr := fs.String("transport", "upgrade", "upgrade | ws | ws-lite | raw")
	pairs := fs.Int("pairs", 10, "sender→receiver pairs")
	size := fs.Int("size", 1400, "packet payload bytes")
	rate := fs.Float64("rate", 100000, "offered packets/s in total")
	dur := fs.Duration("duration", 3*time.Second, "measured window")
	warm := fs.Duration("warmup", time.Second, "unmeasured warm-up")
	count := fs.Int("count", 5000, "latency samples")
	discard := fs.Int("discard", 500, "latency samples discarded first")
	interval := fs.Duration("interval", 500*time.Microsecond, "latency ping interval")
	bgRate := fs.Float64("bg-rate", 0, "background packets/s during latency (1400 B)")
	conns := fs.Int("conns", 1000, "connections for idle/storm")
	conc := fs.Int("concurrency", 256, "parallel dials for idle")
	fs.Parse(args)

	var out any
	var err error
	t := transport(*tr)
	switch cmd {
	case "throughput":
		out, err = throughput(*u, t, *pairs, *size, *rate, *warm, *dur)
	case "latency":
		out, err = latency(*u, t, *count, *discard, *interval, *bgRate, *pairs)
	case "latency-rr":
		out, err = latencyRoundRobin(strings.Split(*u, ","), strings.Split(*tr, ","), *count, *discard, *interval)
	case "idle":
		out, err = idle(*u, t, *conns, *conc)
	case "storm":
		out, err = storm(*u, t, *conns)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(out)
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

type pairLinks struct {
	a, b       link
	aKey, bKey key.NodePrivate
}

func openPairs(u string, t transport, n int, tag string) ([]pairLinks, error) {
	ps := make([]pairLinks, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range ps {
		ps[i].aKey, ps[i].bKey = key.NewNode(), key.NewNode()
		id := fmt.Sprintf("%s-%d-%d", tag, os.Getpid(), i)
		var err error
		if ps[i].a, err = open(ctx, t, u, ps[i].aKey, id); err != nil {
			return nil, err
		}
		if ps[i].b, err = open(ctx, t, u, ps[i].bKey, id); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

type throughputResult struct {
	Transport   string  `json:"transport"`
	Size        int     `json:"size"`
	Pairs       int     `json:"pairs"`
	Offered     float64 `json:"offered_pps"`
	SentPPS     float64 `json:"sent_pps"`
	Sent        int64   `json:"sent"`
	Received    int64   `json:"received"`
	Loss        float64 `json:"loss"`
	Delivered   float64 `json:"delivered_pps"`
	Gbps        float64 `json:"delivered_gbps"`
	GenCPU      float64 `json:"gen_cpu_s"`
	SendErrors  int64   `json:"send_errors"`
	DurationSec float64 `json:"duration_s"`
}

// pace sends at a fixed rate (open loop: the schedule does not wait for the
// relay; a blocked write shows up as sent < offered).
func pace(stop <-chan struct{}, perSec float64, send func() bool) {
	start := time.Now()
	var sent float64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		due := time.Since(start).Seconds() * perSec
		// Cap catch-up to 50 ms of packets so a stall is not followed by a flood.
		if due-sent > perSec*0.05 {
			sent = due - perSec*0.05
		}
		for sent < due {
			if !send() {
				return
			}
			sent++
		}
	}
}

func throughput(u string, t transport, pairs, size int, rate float64, warm, dur time.Duration) (*throughputResult, error) {
	ps, err := openPairs(u, t, pairs, "tp")
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range ps {
			p.a.Close()
			p.b.Close()
		}
	}()
	var measuring atomic.Bool
	var sent, recv, sendErr atomic.Int64
	var wg sync.WaitGroup
	for _, p := range ps {
		p := p
		go func() {
			for {
				b, err := p.b.Recv()
				if err != nil {
					return
				}
				if len(b) > 0 && b[0] == 1 {
					recv.Add(1)
				}
			}
		}()
	}
	stop := make(chan struct{})
	for _, p := range ps {
		p := p
		wg.Add(1)
		go func() {
			defer wg.Done()
			warmPkt := make([]byte, size)
			measPkt := make([]byte, size)
			measPkt[0] = 1
			dst := p.bKey.Public()
			pace(stop, rate/float64(pairs), func() bool {
				pkt := warmPkt
				m := measuring.Load()
				if m {
					pkt = measPkt
				}
				if err := p.a.Send(dst, pkt); err != nil {
					sendErr.Add(1)
					return false
				}
				if m {
					sent.Add(1)
				}
				return true
			})
		}()
	}
	time.Sleep(warm)
	cpu0 := cpuSeconds()
	measuring.Store(true)
	t0 := time.Now()
	time.Sleep(dur)
	measuring.Store(false)
	elapsed := time.Since(t0).Seconds()
	close(stop)
	wg.Wait()
	// Drain: until everything arrived or nothing moved for 500 ms (max 5 s).
	last, still := recv.Load(), 0
	for i := 0; i < 100 && recv.Load() < sent.Load() && still < 10; i++ {
		time.Sleep(50 * time.Millisecond)
		if n := recv.Load(); n == last {
			still++
		} else {
			last, still = n, 0
		}
	}
	r := &throughputResult{
		Transport: string(t), Size: size, Pairs: pairs, Offered: rate,
		Sent: sent.Load(), Received: recv.Load(), SendErrors: sendErr.Load(), DurationSec: elapsed,
		GenCPU: cpuSeconds() - cpu0,
	}
	r.SentPPS = float64(r.Sent) / elapsed
	r.Delivered = float64(r.Received) / elapsed
	r.Gbps = r.Delivered * float64(size) * 8 / 1e9
	if r.Sent > 0 {
		r.Loss = float64(r.Sent-r.Received) / float64(r.Sent)
	}
	return r, nil
}

type latencyResult struct {
	Transport string `json:"transport"`
	Samples   int    `json:"samples"`
	// RTTs in send order (µs, -1 = lost), so runs can be pooled and bursts seen.
	RTTus   []float64 `json:"rtt_us"`
	Lost    int       `json:"lost"`
	P50us   float64   `json:"p50_us"`
	P99us   float64   `json:"p99_us"`
	P999us  float64   `json:"p999_us"`
	BgRate  float64   `json:"bg_rate"`
	BgDeliv float64   `json:"bg_delivered_pps"`
}

// latency: A sends 64-byte pings to B every interval, B echoes, A times the round trip.
func latency(u string, t transport, count, discard int, interval time.Duration, bgRate float64, bgPairs int) (*latencyResult, error) {
	ps, err := openPairs(u, t, 1, "lat")
	if err != nil {
		return nil, err
	}
	p := ps[0]
	defer p.a.Close()
	defer p.b.Close()
	var bg chan *throughputResult
	if bgRate > 0 {
		bg = make(chan *throughputResult, 1)
		bgDur := time.Duration(count)*interval + time.Second
		go func() {
			r, err := throughput(u, t, bgPairs, 1400, bgRate, 0, bgDur)
			if err != nil {
				fmt.Fprintln(os.Stderr, "background:", err)
			}
			bg <- r
		}()
		time.Sleep(500 * time.Millisecond) // let the background load ramp
	}
	aPub := p.aKey.Public()
	go func() { // echo
		for {
			b, err := p.b.Recv()
			if err != nil {
				return
			}
			if err := p.b.Send(aPub, b); err != nil {
				return
			}
		}
	}()
	rtts := make([]time.Duration, count)
	got := make([]bool, count)
	epoch := time.Now()
	done := make(chan struct{})
	var mu sync.Mutex
	go func() {
		defer close(done)
		n := 0
		for n < count {
			b, err := p.a.Recv()
			if err != nil || len(b) < 16 {
				return
			}
			seq := int(binary.BigEndian.Uint64(b))
			at := time.Duration(binary.BigEndian.Uint64(b[8:]))
			if seq < count && !got[seq] {
				mu.Lock()
				rtts[seq] = time.Since(epoch) - at
				got[seq] = true
				mu.Unlock()
				n++
			}
		}
	}()
	bPub := p.bKey.Public()
	pkt := make([]byte, 64)
	next := time.Now()
	for i := 0; i < count; i++ {
		// Sleep, never spin: a spinning sender holds a CPU the relay under
		// test may need, and its tail then measures the scheduler. Pacing
		// only needs to be close to the interval; each RTT is timed alone.
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		binary.BigEndian.PutUint64(pkt, uint64(i))
		binary.BigEndian.PutUint64(pkt[8:], uint64(time.Since(epoch)))
		if err := p.a.Send(bPub, pkt); err != nil {
			return nil, err
		}
		next = next.Add(interval)
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
	}
	mu.Lock()
	var xs []float64
	inOrder := make([]float64, 0, count-discard)
	lost := 0
	for i := discard; i < count; i++ {
		if got[i] {
			us := float64(rtts[i].Nanoseconds()) / 1e3
			xs = append(xs, us)
			inOrder = append(inOrder, math.Round(us))
		} else {
			lost++
			inOrder = append(inOrder, -1)
		}
	}
	mu.Unlock()
	sort.Float64s(xs)
	q := func(f float64) float64 {
		if len(xs) == 0 {
			return 0
		}
		i := int(f * float64(len(xs)-1))
		return xs[i]
	}
	r := &latencyResult{Transport: string(t), Samples: len(xs), RTTus: inOrder, Lost: lost, P50us: q(0.5), P99us: q(0.99), P999us: q(0.999), BgRate: bgRate}
	if bg != nil {
		if b := <-bg; b != nil {
			r.BgDeliv = b.Delivered
		}
	}
	return r, nil
}

// idle opens n sessions, reports, waits for a line on stdin, sends one
// packet per session, reports again and waits for stdin to close.
func idle(u string, t transport, n, conc int) (any, error) {
	links := make([]link, n)
	keys := make([]key.NodePrivate, n)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	t0 := time.Now()
	for i := 0; i < n; i++ {
		keys[i] = key.NewNode()
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			l, err := open(ctx, t, u, keys[i], "")
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			links[i] = l
		}(i)
	}
	wg.Wait()
	if e, ok := firstErr.Load().(error); ok {
		return nil, e
	}
	fmt.Fprintf(os.Stdout, "{\"phase\":\"connected\",\"conns\":%d,\"seconds\":%.3f}\n", n, time.Since(t0).Seconds())
	in := bufio.NewReader(os.Stdin)
	in.ReadString('\n')
	pkt := make([]byte, 100)
	for i, l := range links {
		l.Send(keys[(i+1)%n].Public(), pkt)
	}
	fmt.Fprintf(os.Stdout, "{\"phase\":\"sent\"}\n")
	in.ReadString('\n')
	for _, l := range links {
		l.Close()
	}
	return map[string]any{"phase": "done"}, nil
}

type stormResult struct {
	Conns    int     `json:"conns"`
	Failed   int     `json:"failed"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"handshakes_per_s"`
	P50ms    float64 `json:"p50_ms"`
	P99ms    float64 `json:"p99_ms"`
	GenCPU   float64 `json:"gen_cpu_s"`
	FirstErr string  `json:"first_error,omitempty"`
}

// storm: n clients dial at once; ready = ServerInfo received.
func storm(u string, t transport, n int) (*stormResult, error) {
	links := make([]link, n)
	durs := make([]float64, n)
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	keys := make([]key.NodePrivate, n)
	for i := range keys {
		keys[i] = key.NewNode()
	}
	cpu0 := cpuSeconds()
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			t0 := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			l, err := open(ctx, t, u, keys[i], "")
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				durs[i] = -1
				return
			}
			durs[i] = time.Since(t0).Seconds() * 1000
			links[i] = l
		}(i)
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0).Seconds()
	var xs []float64
	for _, d := range durs {
		if d >= 0 {
			xs = append(xs, d)
		}
	}
	sort.Float64s(xs)
	q := func(f float64) float64 {
		if len(xs) == 0 {
			return 0
		}
		return xs[int(f*float64(len(xs)-1))]
	}
	r := &stormResult{Conns: n, Failed: int(failed.Load()), Seconds: el, PerSec: float64(len(xs)) / el, P50ms: q(0.5), P99ms: q(0.99), GenCPU: cpuSeconds() - cpu0}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstErr = s
	}
	for _, l := range links {
		if l != nil {
			l.Close()
		}
	}
	return r, nil
}

// latencyRoundRobin times idle ping/echo RTTs through several relays at once:
// ping i goes to relay i mod n, one every interval, so each relay sees one
// ping at a time while a stall of the whole box (this one has 10-20 ms
// ones) lands in every relay's series alike. urls[k] uses transports[k].
func latencyRoundRobin(urls, transports []string, count, discard int, interval time.Duration) ([]*latencyResult, error) {
	n := len(urls)
	if len(transports) != n {
		return nil, fmt.Errorf("%d urls but %d transports", n, len(transports))
	}
	type target struct {
		p    pairLinks
		rtts []time.Duration
		got  []bool
		done chan struct{}
	}
	ts := make([]*target, n)
	for k := range urls {
		ps, err := openPairs(urls[k], transport(transports[k]), 1, "rr")
		if err != nil {
			return nil, err
		}
		ts[k] = &target{p: ps[0], rtts: make([]time.Duration, count), got: make([]bool, count), done: make(chan struct{})}
		defer ps[0].a.Close()
		defer ps[0].b.Close()
	}
	epoch := time.Now()
	var mu sync.Mutex
	for _, tg := range ts {
		aPub := tg.p.aKey.Public()
		go func() { // echo
			for {
				b, err := tg.p.b.Recv()
				if err != nil {
					return
				}
				if err := tg.p.b.Send(aPub, b); err != nil {
					return
				}
			}
		}()
		go func() {
			defer close(tg.done)
			for got := 0; got < count; {
				b, err := tg.p.a.Recv()
				if err != nil || len(b) < 16 {
					return
				}
				seq := int(binary.BigEndian.Uint64(b))
				at := time.Duration(binary.BigEndian.Uint64(b[8:]))
				if seq < count && !tg.got[seq] {
					mu.Lock()
					tg.rtts[seq] = time.Since(epoch) - at
					tg.got[seq] = true
					mu.Unlock()
					got++
				}
			}
		}()
	}
	pkt := make([]byte, 64)
	next := time.Now()
	for i := 0; i < count; i++ {
		for _, tg := range ts {
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
			binary.BigEndian.PutUint64(pkt, uint64(i))
			binary.BigEndian.PutUint64(pkt[8:], uint64(time.Since(epoch)))
			if err := tg.p.a.Send(tg.p.bKey.Public(), pkt); err != nil {
				return nil, err
			}
			next = next.Add(interval)
		}
	}
	deadline := time.After(3 * time.Second)
	for _, tg := range ts {
		select {
		case <-tg.done:
		case <-deadline:
		}
	}
	mu.Lock()
	defer mu.Unlock()
	out := make([]*latencyResult, n)
	for k, tg := range ts {
		var xs []float64
		inOrder := make([]float64, 0, count-discard)
		lost := 0
		for i := discard; i < count; i++ {
			if tg.got[i] {
				us := float64(tg.rtts[i].Nanoseconds()) / 1e3
				xs = append(xs, us)
				inOrder = append(inOrder, math.Round(us))
			} else {
				lost++
				inOrder = append(inOrder, -1)
			}
		}
		sort.Float64s(xs)
		q := func(f float64) float64 {
			if len(xs) == 0 {
				return 0
			}
			return xs[int(f*float64(len(xs)-1))]
		}
		out[k] = &latencyResult{Transport: transports[k], Samples: len(xs), RTTus: inOrder, Lost: lost, P50us: q(0.5), P99us: q(0.99), P999us: q(0.999)}
	}
	return out, nil
}
