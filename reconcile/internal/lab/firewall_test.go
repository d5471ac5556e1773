package lab

import (
	"context"
	"testing"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/schema"
)

func intp(i int) *int { return &i }

// seedRepo is the seed's end state: WEB (tags WEB, APP_7890) allows tcp 80,443 and ping; APP
// allows tcp 7890 from APP_7890 and ping; CLIENT allows only from itself.
func seedRepo() *schema.Repository {
	allow := schema.Rule{Action: "allow"}
	return &schema.Repository{
		Profiles: map[string]*schema.Profile{
			"WEB": {ID: "WEB", Tags: []string{"WEB", "APP_7890"},
				Inbound: []schema.Rule{
					{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}}},
					{Action: "allow", Protocol: "icmp", ICMPType: intp(8)},
				},
				Outbound: []schema.Rule{allow}},
			"APP": {ID: "APP", Tags: []string{"APP"},
				Inbound: []schema.Rule{
					{Action: "allow", Protocol: "tcp", DstPorts: []schema.PortRange{{First: 7890, Last: 7890}}, SrcTag: "APP_7890"},
					{Action: "allow", Protocol: "icmp", ICMPType: intp(8)},
				},
				Outbound: []schema.Rule{allow}},
			"CLIENT": {ID: "CLIENT", Tags: []string{"CLIENT"},
				Inbound:  []schema.Rule{{Action: "allow", SrcTag: "CLIENT"}},
				Outbound: []schema.Rule{allow}},
		},
		Endpoints: []*schema.Endpoint{
			{ID: "web-1", Host: "node-1", Interface: "caliweb1", MAC: "ee:ee:ee:00:01:01",
				IPv4Nets: []string{"198.18.1.2/32"}, IPv6Nets: []string{"fd00:1::2/128"}, ProfileIDs: []string{"WEB"}, State: "active"},
			{ID: "app-1", Host: "node-2", Interface: "caliapp1",
				IPv4Nets: []string{"198.18.2.2/32"}, IPv6Nets: []string{"fd00:2::2/128"}, ProfileIDs: []string{"APP"}, State: "active"},
			{ID: "client-1", Host: "node-1", Interface: "caliclient1",
				IPv4Nets: []string{"198.18.1.3/32"}, IPv6Nets: []string{"fd00:1::3/128"}, ProfileIDs: []string{"CLIENT"}, State: "active"},
		},
	}
}

// The compiled rulesets loaded with nft -f into the lab's hosts: every probe's real packet does
// what the simulator says, and the seed's expectations hold.
func TestLabAgreesWithSimulatorUnderSeedPolicy(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	repo := seedRepo()
	l, err := Build(ctx, repo, Options{TCPPorts: []int{22, 80, 443, 7890}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	rulesets := map[string]*nft.Ruleset{}
	for _, h := range l.Hosts() {
		rs, err := compile.Compile(repo, compile.Options{Host: h})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.NFT(ctx, h, rs.Script(), "-f", "-"); err != nil {
			t.Fatal(err)
		}
		rulesets[h] = rs
	}
	tests := []struct {
		p     Probe
		allow bool
	}{
		{Probe{From: "client-1", To: "web-1", Proto: "tcp", Port: 80}, true},
		{Probe{From: "client-1", To: "web-1", Proto: "tcp", Port: 443, Family: 6}, true},
		{Probe{From: "client-1", To: "web-1", Proto: "tcp", Port: 22}, false},
		{Probe{From: "client-1", To: "web-1", Proto: "icmp"}, true},
		{Probe{From: "client-1", To: "web-1", Proto: "icmp", ICMPType: intp(13)}, false},
		{Probe{From: "web-1", To: "app-1", Proto: "tcp", Port: 7890}, true},
		{Probe{From: "web-1", To: "app-1", Proto: "tcp", Port: 7890, Family: 6}, true},
		{Probe{From: "client-1", To: "app-1", Proto: "tcp", Port: 7890}, false},
		{Probe{From: "client-1", To: "app-1", Proto: "icmp"}, true},
		{Probe{From: "app-1", To: "web-1", Proto: "tcp", Port: 80}, true},
		{Probe{From: "app-1", To: "client-1", Proto: "tcp", Port: 80}, false},
		{Probe{From: "web-1", To: "client-1", Proto: "icmp"}, false},
	}
	probes := make([]Probe, len(tests))
	for i, tc := range tests {
		probes[i] = tc.p
	}
	sim := &simulate.Network{Repo: repo, Rulesets: rulesets}
	for i, o := range l.RunAll(ctx, sim, probes, 400*time.Millisecond, 16) {
		if o.Err != nil || o.Expected.Err != nil {
			t.Errorf("%s -> %s %s: probe error %v, simulator error %v", o.Probe.From, o.Probe.To, o.Probe, o.Err, o.Expected.Err)
			continue
		}
		t.Logf("%s -> %s %s: observed %v, simulator %v (%s)", o.Probe.From, o.Probe.To, o.Probe, o.Observed, o.Expected.Allow, o.Expected.Why)
		if o.Observed != tests[i].allow || o.Expected.Allow != tests[i].allow {
			t.Errorf("%s -> %s %s: observed %v, simulator %v (%s), want %v", o.Probe.From, o.Probe.To, o.Probe, o.Observed, o.Expected.Allow, o.Expected.Why, tests[i].allow)
		}
	}
}
