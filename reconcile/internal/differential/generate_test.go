package differential

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/schema"
)

// TestGenerate checks over the fixed seeds that every repository validates, that a seed gives
// the same files twice, that the shape holds (2-5 profiles, 3-8 endpoints on node-1 and
// node-2, addresses in 198.18.0.0/16 but not 198.18.254-255.x and in fd00:1::/64, interface
// names cali*), and that together they use every rule key, action, protocol kind, port form,
// family and endpoint variant the generator promises.
func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for seed := int64(0); seed < fixedSeeds; seed++ {
		c, err := Generate(seed)
		if err != nil {
			t.Fatal(err)
		}
		c2, _ := Generate(seed)
		if !reflect.DeepEqual(c.Files, c2.Files) {
			t.Fatalf("seed %d: two runs give different files", seed)
		}
		checkShape(t, c)
		coverRepo(c.Repo, seen)
	}
	want := []string{
		"allow", "deny", "log", "log_prefix", "proto tcp", "proto udp", "proto icmp", "proto icmpv6",
		"proto sctp", "proto udplite", "proto number", "no protocol", "!protocol",
		"src_ports", "dst_ports", "!src_ports", "!dst_ports", "port range", "single port",
		"icmp_type", "icmp_code", "!icmp_type", "!icmp_code", "src_net", "dst_net", "!src_net",
		"!dst_net", "net v4", "net v6", "net cidr", "net address", "src_tag", "dst_tag",
		"!src_tag", "!dst_tag", "tag carried by no endpoint", "ip_version 4", "ip_version 6",
		"endpoint v4 only", "endpoint v6 only", "endpoint v4 and v6", "endpoint cidr net",
		"no profiles", "several profiles", "inactive", "explicit active", "mac", "same host", "two hosts",
	}
	for _, w := range want {
		if !seen[w] {
			t.Errorf("no repository of seeds 0-%d has %q", fixedSeeds-1, w)
		}
	}
}

var (
	endpoints4 = netip.MustParsePrefix("198.18.0.0/16")
	lab4       = netip.MustParsePrefix("198.18.254.0/23")
	endpoints6 = netip.MustParsePrefix("fd00:1::/64")
)

func checkShape(t *testing.T, c Case) {
	t.Helper()
	r := c.Repo
	if n := len(r.Profiles); n < 2 || n > 5 {
		t.Errorf("seed %d: %d profiles", c.Seed, n)
	}
	if n := len(r.Endpoints); n < 3 || n > 8 {
		t.Errorf("seed %d: %d endpoints", c.Seed, n)
	}
	for _, e := range r.Endpoints {
		if e.Host != "node-1" && e.Host != "node-2" || !strings.HasPrefix(e.Interface, "cali") {
			t.Errorf("seed %d: endpoint %s on %q, interface %q", c.Seed, e.ID, e.Host, e.Interface)
		}
		for _, p := range e.Prefixes() {
			in := endpoints6
			if p.Addr().Is4() {
				in = endpoints4
			}
			if !in.Contains(p.Addr()) || p.Bits() < in.Bits() || lab4.Overlaps(p) {
				t.Errorf("seed %d: endpoint %s net %s outside %s or in the lab's", c.Seed, e.ID, p, in)
			}
		}
	}
}

// coverRepo notes in seen what the repository uses.
func coverRepo(r *schema.Repository, seen map[string]bool) {
	for _, p := range r.Profiles {
		for _, ru := range append(append([]schema.Rule(nil), p.Inbound...), p.Outbound...) {
			coverRule(ru, seen)
			for _, tag := range []string{ru.SrcTag, ru.DstTag, ru.NotSrcTag, ru.NotDstTag} {
				if tag != "" && len(r.TagMembers(tag)) == 0 {
					seen["tag carried by no endpoint"] = true
				}
			}
		}
	}
	hosts := map[string]int{}
	for _, e := range r.Endpoints {
		hosts[e.Host]++
		v4, v6 := len(e.IPv4Nets) > 0, len(e.IPv6Nets) > 0
		seen["endpoint v4 only"] = seen["endpoint v4 only"] || v4 && !v6
		seen["endpoint v6 only"] = seen["endpoint v6 only"] || v6 && !v4
		seen["endpoint v4 and v6"] = seen["endpoint v4 and v6"] || v4 && v6
		for _, p := range e.Prefixes() {
			seen["endpoint cidr net"] = seen["endpoint cidr net"] || !p.IsSingleIP()
		}
		seen["no profiles"] = seen["no profiles"] || len(e.ProfileIDs) == 0
		seen["several profiles"] = seen["several profiles"] || len(e.ProfileIDs) > 1
		seen["inactive"] = seen["inactive"] || e.State == schema.StateInactive
		seen["explicit active"] = seen["explicit active"] || e.State == schema.StateActive
		seen["mac"] = seen["mac"] || e.MAC != ""
	}
	for _, n := range hosts {
		seen["same host"] = seen["same host"] || n > 1
	}
	seen["two hosts"] = seen["two hosts"] || len(hosts) == 2
}

func coverRule(r schema.Rule, seen map[string]bool) {
	seen[r.Action] = true
	set := func(k string, on bool) { seen[k] = seen[k] || on }
	set("log_prefix", r.LogPrefix != "")
	switch p := string(r.Protocol); p {
	case "":
		seen["no protocol"] = true
	case "tcp", "udp", "icmp", "icmpv6", "sctp", "udplite":
		seen["proto "+p] = true
	default:
		seen["proto number"] = true
	}
	set("!protocol", r.NotProtocol != "")
	for k, ps := range map[string][]schema.PortRange{"src_ports": r.SrcPorts, "dst_ports": r.DstPorts, "!src_ports": r.NotSrcPorts, "!dst_ports": r.NotDstPorts} {
		set(k, len(ps) > 0)
		for _, p := range ps {
			set("port range", p.First != p.Last)
			set("single port", p.First == p.Last)
		}
	}
	for k, v := range map[string]*int{"icmp_type": r.ICMPType, "icmp_code": r.ICMPCode, "!icmp_type": r.NotICMPType, "!icmp_code": r.NotICMPCode} {
		set(k, v != nil)
	}
	for k, v := range map[string]string{"src_net": r.SrcNet, "dst_net": r.DstNet, "!src_net": r.NotSrcNet, "!dst_net": r.NotDstNet,
		"src_tag": r.SrcTag, "dst_tag": r.DstTag, "!src_tag": r.NotSrcTag, "!dst_tag": r.NotDstTag} {
		set(k, v != "")
		if strings.HasSuffix(k, "_net") && v != "" {
			set("net v4", schema.NetFamily(v) == 4)
			set("net v6", schema.NetFamily(v) == 6)
			set("net cidr", strings.Contains(v, "/"))
			set("net address", !strings.Contains(v, "/"))
		}
	}
	set("ip_version 4", r.IPVersion == 4)
	set("ip_version 6", r.IPVersion == 6)
}

// TestPackets checks that the packets of a seed are the same twice, that every packet is a
// flow of the model (CheckPacket), and that together they reach every kind the generator
// promises: same host and across hosts, to the host (DHCP, DHCPv6, DNS, ND, from the
// unspecified and link-local addresses), forged sources and MACs, outside both ways, ports
// and ICMP types of the rules and beside them.
func TestPackets(t *testing.T) {
	seen := map[string]bool{}
	for seed := int64(0); seed < fixedSeeds; seed++ {
		c, err := Generate(seed)
		if err != nil {
			t.Fatal(err)
		}
		pkts := Packets(seed, c.Repo)
		if !reflect.DeepEqual(pkts, Packets(seed, c.Repo)) {
			t.Fatalf("seed %d: two runs give different packets", seed)
		}
		for _, p := range pkts {
			if err := CheckPacket(c.Repo, p); err != nil {
				t.Fatalf("seed %d: %s: %v", seed, FormatPacket(p), err)
			}
			coverPacket(c.Repo, p, seen)
		}
	}
	for _, w := range []string{
		"same host", "two hosts", "to host", "dhcp", "dhcpv6", "dns", "nd 133", "nd 135", "nd 136", "nd 134",
		"from unspecified", "from link-local", "from link-local v4", "forged: another endpoint's", "forged: outside", "forged mac",
		"mac in upper case", "from outside", "to outside", "v4", "v6", "proto 47", "sctp", "udplite",
		"icmp", "icmpv6", "inactive sender", "inactive receiver",
	} {
		if !seen[w] {
			t.Errorf("no packet of seeds 0-%d is %q", fixedSeeds-1, w)
		}
	}
}

func coverPacket(r *schema.Repository, p evaluate.Packet, seen map[string]bool) {
	set := func(k string, on bool) { seen[k] = seen[k] || on }
	from, to := r.Endpoint(p.From), r.Endpoint(p.To)
	set("same host", from != nil && to != nil && from.Host == to.Host)
	set("two hosts", from != nil && to != nil && from.Host != to.Host)
	set("to host", p.ToHost != "")
	set("dhcp", p.ToHost != "" && p.Proto == pUDP && p.DstPort == 67)
	set("dhcpv6", p.ToHost != "" && p.Proto == pUDP && p.DstPort == 547)
	set("dns", p.ToHost != "" && p.DstPort == 53)
	if p.ToHost != "" && p.Proto == pICMPv6 {
		seen["nd "+itoa(int(p.ICMPType))] = true
	}
	set("from unspecified", p.Src.IsUnspecified())
	set("from link-local", p.Src.IsLinkLocalUnicast() && p.Src.Is6())
	set("from link-local v4", p.Src.IsLinkLocalUnicast() && p.Src.Is4())
	if from != nil && !p.Src.IsUnspecified() && !p.Src.IsLinkLocalUnicast() && !inNets(from, p.Src) {
		o := ownerOf(r, p.Src)
		set("forged: another endpoint's", o != nil)
		set("forged: outside", o == nil)
	}
	set("forged mac", p.SrcMAC != "" && (from == nil || !strings.EqualFold(p.SrcMAC, from.MAC)))
	set("mac in upper case", p.SrcMAC != "" && p.SrcMAC == strings.ToUpper(p.SrcMAC) && from != nil && strings.EqualFold(p.SrcMAC, from.MAC))
	set("from outside", p.From == "")
	set("to outside", p.To == "" && p.ToHost == "")
	set("v4", p.Src.Is4())
	set("v6", p.Src.Is6())
	set("proto 47", p.Proto == 47)
	set("sctp", p.Proto == pSCTP)
	set("udplite", p.Proto == pUDPLite)
	set("icmp", p.Proto == pICMP)
	set("icmpv6", p.Proto == pICMPv6)
	set("inactive sender", from != nil && !from.Active())
	set("inactive receiver", to != nil && !to.Active())
}

func inNets(e *schema.Endpoint, a netip.Addr) bool {
	for _, p := range e.Prefixes() {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func ownerOf(r *schema.Repository, a netip.Addr) *schema.Endpoint {
	for _, e := range r.Endpoints {
		if inNets(e, a) {
			return e
		}
	}
	return nil
}

// TestRender checks that Render quotes what YAML would reinterpret: a tag "true", a
// profile id "010", negated keys.
func TestRender(t *testing.T) {
	one := 1
	repo := &schema.Repository{Profiles: map[string]*schema.Profile{
		"010": {ID: "010", Tags: []string{"true", "1e3"}, Inbound: []schema.Rule{{Action: "allow", Protocol: "icmp", NotICMPType: &one, NotSrcTag: "null"}}},
	}, Endpoints: []*schema.Endpoint{{ID: "007", Host: "node-1", Interface: "cali7", IPv4Nets: []string{"198.18.1.1/32"}, ProfileIDs: []string{"010"}}}}
	files := Render(repo)
	got, errs := schema.LoadFiles(files, nil)
	if len(errs) > 0 {
		t.Fatalf("%v\n%s", errs, filesText(files))
	}
	p := got.Profiles["010"]
	if p == nil || !reflect.DeepEqual(p.Tags, []string{"true", "1e3"}) || p.Inbound[0].NotSrcTag != "null" || *p.Inbound[0].NotICMPType != 1 {
		t.Errorf("round trip: %+v", p)
	}
	if !bytes.Contains(files["profiles/010.yaml"], []byte(`"!icmp_type": 1`)) {
		t.Errorf("negated key not quoted:\n%s", files["profiles/010.yaml"])
	}
}
