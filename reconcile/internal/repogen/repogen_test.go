package repogen

import (
	"reflect"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/schema"
)

// TestDeterministic: the same seed or bytes give the same repository.
func TestDeterministic(t *testing.T) {
	for seed := range uint64(20) {
		a, b := Generate(FromSeed(seed)), Generate(FromSeed(seed))
		if !reflect.DeepEqual(a.Files, b.Files) || !reflect.DeepEqual(a.Hosts, b.Hosts) {
			t.Fatalf("seed %d: two runs differ", seed)
		}
	}
	in := []byte("some fuzz input bytes, any length")
	if a, b := Generate(FromBytes(in)), Generate(FromBytes(in)); !reflect.DeepEqual(a.Files, b.Files) {
		t.Fatal("the same bytes gave two repositories")
	}
	if r := Generate(FromBytes(nil)); len(r.Files) == 0 {
		t.Fatal("empty input gave no files")
	}
}

// TestReachesTheEdges checks over a few hundred seeds that most repositories validate, that
// what validates means what the generator wrote, and that the edges are reached.
func TestReachesTheEdges(t *testing.T) {
	const n = 300
	valid := 0
	seen := map[string]bool{}
	mark := func(cond bool, what string) {
		if cond {
			seen[what] = true
		}
	}
	for seed := range uint64(n) {
		r := Generate(FromSeed(seed))
		repo, errs := schema.Load(r.Files)
		mark(r.Raw, "raw file")
		mark(len(r.Hosts) > 1, "several hosts")
		for p, b := range r.Files {
			mark(strings.HasSuffix(p, ".json"), "json")
			mark(strings.Contains(string(b), "\r\n"), "crlf")
		}
		if errs != nil {
			continue
		}
		valid++
		for _, p := range repo.Profiles {
			mark(len(p.ID) == MaxID, "64-byte id")
			for _, rules := range [][]schema.Rule{p.Inbound, p.Outbound} {
				for _, x := range rules {
					mark(len(x.LogPrefix) == MaxLogPrefix, "27-char log prefix")
					mark(x.NotICMPType != nil && x.NotICMPCode != nil, "negated icmp type and code")
					mark(x.ICMPType != nil && *x.ICMPType == 254, "icmp type 254")
					mark(x.SrcNet == "0.0.0.0/0" || x.DstNet == "::/0", "/0 net")
					mark(len(x.DstPorts) > 1, "port list")
					mark(len(x.NotSrcPorts) > 0, "negated ports")
					mark(x.NotProtocol != "", "negated protocol")
					mark(x.IPVersion != 0, "ip_version")
					mark(x.NotDstTag != "", "negated tag")
					_, err := schema.ParseNet(x.SrcNet)
					mark(err == nil && strings.Contains(x.SrcNet, "/") && x.Protocol != "", "rule net")
				}
			}
		}
		for _, e := range repo.Endpoints {
			mark(len(e.Interface) == 15, "15-byte interface")
			mark(!e.Active(), "inactive endpoint")
			mark(e.MAC != "", "mac")
			mark(len(e.IPv6Nets) > 0, "ipv6 endpoint")
		}
	}
	if valid < n*2/3 {
		t.Errorf("%d of %d repositories validate, want at least two thirds", valid, n)
	}
	for _, want := range []string{"raw file", "several hosts", "json", "crlf", "64-byte id", "27-char log prefix",
		"negated icmp type and code", "icmp type 254", "/0 net", "port list", "negated ports", "negated protocol",
		"ip_version", "negated tag", "rule net", "15-byte interface", "inactive endpoint", "mac", "ipv6 endpoint"} {
		if !seen[want] {
			t.Errorf("no generated repository has: %s", want)
		}
	}
}
