package main

// The "coder" mode drives the TS server with Coder's own generated dRPC
// clients and protobuf types (github.com/coder/coder/v2 agent/proto and
// tailnet/proto), one yamux stream per RPC as codersdk's multiplexed conn does.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/yamux"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
	"storj.io/drpc"
	"storj.io/drpc/drpcconn"
	"storj.io/drpc/drpcerr"

	agentproto "github.com/coder/coder/v2/agent/proto"
	tailnetproto "github.com/coder/coder/v2/tailnet/proto"
)

type muxConn struct {
	sess   *yamux.Session
	closed chan struct{}
}

func (m *muxConn) Close() error            { return nil }
func (m *muxConn) Closed() <-chan struct{} { return m.closed }

func (m *muxConn) Invoke(ctx context.Context, rpc string, enc drpc.Encoding, in, out drpc.Message) error {
	st, err := m.sess.Open()
	if err != nil {
		return err
	}
	c := drpcconn.New(st)
	defer c.Close()
	return c.Invoke(ctx, rpc, enc, in, out)
}

func (m *muxConn) NewStream(ctx context.Context, rpc string, enc drpc.Encoding) (drpc.Stream, error) {
	st, err := m.sess.Open()
	if err != nil {
		return nil, err
	}
	c := drpcconn.New(st)
	s, err := c.NewStream(ctx, rpc, enc)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	go func() {
		<-s.Context().Done()
		_ = c.Close()
	}()
	return s, nil
}

func must(name string, err error) {
	if err != nil {
		fail("%s: %v", name, err)
	}
}

func uuidOf(b byte) []byte {
	out := make([]byte, 16)
	for i := range out {
		out[i] = b
	}
	return out
}

func runCoder(ctx context.Context, sess *yamux.Session) {
	cc := &muxConn{sess: sess, closed: make(chan struct{})}
	ag := agentproto.NewDRPCAgentClient(cc)
	tn := tailnetproto.NewDRPCTailnetClient(cc)

	// GetManifest: print it as protojson for the TS side to check field by field.
	man, err := ag.GetManifest(ctx, &agentproto.GetManifestRequest{})
	must("GetManifest", err)
	if man.DerpMap == nil || man.DerpMap.HomeParams == nil {
		fail("manifest derp map without home_params")
	}
	js, _ := protojson.Marshal(man)
	fmt.Println("JSON manifest " + string(js))
	ok("coder-get-manifest")

	// UpdateStats: TS records what it decoded; interval must come back.
	st, err := ag.UpdateStats(ctx, &agentproto.UpdateStatsRequest{Stats: &agentproto.Stats{
		ConnectionsByProto:        map[string]int64{"ssh": 3},
		ConnectionCount:           3,
		ConnectionMedianLatencyMs: 12.5,
		RxPackets:                 7,
		RxBytes:                   1 << 40,
		TxBytes:                   5,
		SessionCountSsh:           2,
		Metrics: []*agentproto.Stats_Metric{{
			Name: "m", Type: agentproto.Stats_Metric_GAUGE, Value: 1.5,
			Labels: []*agentproto.Stats_Metric_Label{{Name: "a", Value: "b"}},
		}},
	}})
	must("UpdateStats", err)
	if st.ReportInterval.AsDuration() != 30*time.Second {
		fail("report interval %v", st.ReportInterval.AsDuration())
	}
	ok("coder-update-stats")

	// Echo RPCs: what comes back must equal what was sent.
	lc := &agentproto.Lifecycle{State: agentproto.Lifecycle_READY, ChangedAt: timestamppb.New(time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC))}
	lcOut, err := ag.UpdateLifecycle(ctx, &agentproto.UpdateLifecycleRequest{Lifecycle: lc})
	must("UpdateLifecycle", err)
	if !proto.Equal(lc, lcOut) {
		fail("lifecycle echo: %v", lcOut)
	}
	su := &agentproto.Startup{Version: "v2.24.1", ExpandedDirectory: "/home/coder", Subsystems: []agentproto.Startup_Subsystem{agentproto.Startup_ENVBOX, agentproto.Startup_EXECTRACE}}
	suOut, err := ag.UpdateStartup(ctx, &agentproto.UpdateStartupRequest{Startup: su})
	must("UpdateStartup", err)
	if !proto.Equal(su, suOut) {
		fail("startup echo: %v", suOut)
	}
	ok("coder-echo-lifecycle-startup")

	logs, err := ag.BatchCreateLogs(ctx, &agentproto.BatchCreateLogsRequest{
		LogSourceId: uuidOf(0x33),
		Logs: []*agentproto.Log{
			{CreatedAt: timestamppb.New(time.Unix(1700000000, 42)), Output: "héllo ✓", Level: agentproto.Log_WARN},
			{Output: "second"},
		},
	})
	must("BatchCreateLogs", err)
	if !logs.LogLimitExceeded {
		fail("log_limit_exceeded not set")
	}
	_, err = ag.BatchUpdateMetadata(ctx, &agentproto.BatchUpdateMetadataRequest{Metadata: []*agentproto.Metadata{{
		Key:    "cpu",
		Result: &agentproto.WorkspaceAgentMetadata_Result{CollectedAt: timestamppb.New(time.Unix(1700000001, 0)), Age: -5, Value: "12%"},
	}}})
	must("BatchUpdateMetadata", err)
	ok("coder-logs-metadata")

	_, err = ag.PushResourcesMonitoringUsage(ctx, &agentproto.PushResourcesMonitoringUsageRequest{})
	if drpcerr.Code(err) != 12 {
		fail("unregistered agent RPC: code %d (%v)", drpcerr.Code(err), err)
	}
	_, err = tn.RefreshResumeToken(ctx, &tailnetproto.RefreshResumeTokenRequest{})
	if drpcerr.Code(err) != 12 {
		fail("unregistered tailnet RPC: code %d (%v)", drpcerr.Code(err), err)
	}
	ok("coder-unimplemented")

	_, err = tn.PostTelemetry(ctx, &tailnetproto.TelemetryRequest{Events: []*tailnetproto.TelemetryEvent{{
		Id:              uuidOf(0x44),
		Time:            timestamppb.New(time.Unix(1700000002, 0)),
		Application:     "cli",
		Status:          tailnetproto.TelemetryEvent_DISCONNECTED,
		ClientType:      tailnetproto.TelemetryEvent_AGENT,
		NodeIdSelf:      1<<63 + 1,
		HomeDerp:        999,
		ThroughputMbits: wrapperspb.Float(2.5),
		ConnectionAge:   durationpb.New(90 * time.Second),
		LatestNetcheck: &tailnetproto.Netcheck{
			UDP: true, OSHasIPv6: wrapperspb.Bool(true), PreferredDERP: 999,
			RegionV4Latency: map[int64]*durationpb.Duration{999: durationpb.New(15 * time.Millisecond)},
		},
	}}})
	must("PostTelemetry", err)
	ok("coder-telemetry")

	// Coordinate: the TS handler echoes each node back inside a PeerUpdate.
	node := &tailnetproto.Node{
		Id:                  1<<62 + 5,
		AsOf:                timestamppb.New(time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)),
		Key:                 append([]byte("np"), uuidOf(0xab)[:16]...),
		Disco:               "discokey:" + fmt.Sprintf("%064x", 7),
		PreferredDerp:       999,
		DerpLatency:         map[string]float64{"999-v4": 0.0123, "999-v6": 0.5},
		DerpForcedWebsocket: map[int32]string{999: "GET failed"},
		Addresses:           []string{"fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128"},
		AllowedIps:          []string{"fd7a:115c:a1e0:49d6:b259:b7ac:b1b2:48f4/128"},
		Endpoints:           []string{"192.0.2.1:41641", "[2001:db8::1]:41641"},
	}
	node.Key = append(node.Key, uuidOf(0xcd)...) // 2 + 16 + 16 = 34 bytes
	co, err := tn.Coordinate(ctx)
	must("Coordinate", err)
	must("Coordinate send", co.Send(&tailnetproto.CoordinateRequest{
		UpdateSelf:        &tailnetproto.CoordinateRequest_UpdateSelf{Node: node},
		AddTunnel:         &tailnetproto.CoordinateRequest_Tunnel{Id: uuidOf(0x55)},
		ReadyForHandshake: []*tailnetproto.CoordinateRequest_ReadyForHandshake{{Id: uuidOf(0x66)}},
	}))
	resp, err := co.Recv()
	must("Coordinate recv", err)
	if len(resp.PeerUpdates) != 1 || !proto.Equal(resp.PeerUpdates[0].Node, node) ||
		resp.PeerUpdates[0].Kind != tailnetproto.CoordinateResponse_PeerUpdate_NODE ||
		string(resp.PeerUpdates[0].Id) != string(uuidOf(0x55)) || resp.PeerUpdates[0].Reason != "echo" {
		fail("coordinate echo: %v", resp)
	}
	must("Coordinate disconnect", co.Send(&tailnetproto.CoordinateRequest{Disconnect: &tailnetproto.CoordinateRequest_Disconnect{}}))
	if _, err := co.Recv(); !errors.Is(err, io.EOF) {
		fail("coordinate end: %v", err)
	}
	_ = co.Close()
	ok("coder-coordinate")

	dm, err := tn.StreamDERPMaps(ctx, &tailnetproto.StreamDERPMapsRequest{})
	must("StreamDERPMaps", err)
	for i := 0; i < 2; i++ {
		m, err := dm.Recv()
		must("StreamDERPMaps recv", err)
		r := m.Regions[999]
		if m.HomeParams == nil || r == nil || len(r.Nodes) != 1 || r.Nodes[0].StunPort != -1 || r.Nodes[0].HostName != fmt.Sprintf("derp%d.example.com", i) {
			fail("derp map %d: %v", i, m)
		}
	}
	if _, err := dm.Recv(); !errors.Is(err, io.EOF) {
		fail("derp maps end: %v", err)
	}
	ok("coder-derp-maps")
}
