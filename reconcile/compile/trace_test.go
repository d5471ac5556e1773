package compile

import (
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/schema"
)

// TestLoadedSeedMatchesGolden loads the seed repository from files (YAML and the seed's JSON)
// with schema.Load and expects the same ruleset as the Go-built fixture of the golden file.
func TestLoadedSeedMatchesGolden(t *testing.T) {
	root := filepath.Join("testdata", "seed-repo")
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	repo, errs := schema.Load(files)
	if errs != nil {
		t.Fatalf("schema.Load: %v", errs)
	}
	for _, host := range []string{"node-1", "node-2"} {
		rs, err := Compile(repo, Options{Host: host})
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "seed-"+host+".nft"))
		if err != nil {
			t.Fatal(err)
		}
		if got := rs.String(); got != string(want) {
			t.Errorf("%s: loaded repository compiles to\n%s\nwant the golden\n%s", host, got, want)
		}
	}
}

var (
	web1v4  = netip.MustParseAddr("198.18.1.2")
	web1v6  = netip.MustParseAddr("fd00:1::2")
	web2v4  = netip.MustParseAddr("198.18.1.3")
	app1v4  = netip.MustParseAddr("198.18.2.2")
	app2v4  = netip.MustParseAddr("198.18.2.3")
	hostv4  = netip.MustParseAddr("198.18.0.1")
	outv4   = netip.MustParseAddr("198.19.9.9")
	outv6   = netip.MustParseAddr("fd00:9::9")
	web1MAC = "ee:ee:ee:00:00:01"
	// forged4 and forged6 are sources no endpoint owns; linkLocal6 a workload's link-local
	// address; gw6 the host's link-local gateway.
	forged4    = netip.MustParseAddr("198.18.77.77")
	forged6    = netip.MustParseAddr("fd00:77::77")
	linkLocal6 = netip.MustParseAddr("fe80::2")
	gw6        = netip.MustParseAddr("fe80::1")
	// uplink is the host's own interface: no endpoint map holds it.
	uplink = "eth0"
)

func tcp(iif, oif string, src, dst netip.Addr, dport uint16) simulate.Packet {
	return simulate.Packet{Hook: nft.HookForward, IIF: iif, OIF: oif, Src: src, Dst: dst, SrcMAC: "aa:aa:aa:aa:aa:aa", Proto: 6, SPort: 40000, DPort: dport}
}

func udp(hook nft.Hook, iif, oif string, src, dst netip.Addr, sport, dport uint16) simulate.Packet {
	return simulate.Packet{Hook: hook, IIF: iif, OIF: oif, Src: src, Dst: dst, SrcMAC: "aa:aa:aa:aa:aa:aa", Proto: 17, SPort: sport, DPort: dport}
}

func icmp(iif, oif string, src, dst netip.Addr, typ uint8) simulate.Packet {
	p := simulate.Packet{Hook: nft.HookForward, IIF: iif, OIF: oif, Src: src, Dst: dst, SrcMAC: "aa:aa:aa:aa:aa:aa", Proto: 1, ICMPType: typ}
	if src.Is6() {
		p.Proto = 58
	}
	return p
}

func withMAC(p simulate.Packet, mac string) simulate.Packet { p.SrcMAC = mac; return p }

func onInput(p simulate.Packet) simulate.Packet { p.Hook = nft.HookInput; return p }

func withCt(p simulate.Packet, ct nft.CtState) simulate.Packet { p.Ct = ct; return p }

// TestTraceVerdicts traces packets through compiled rulesets with the simulator and checks
// the verdict and the deciding rule against the semantics of SPEC §3.
func TestTraceVerdicts(t *testing.T) {
	seed1, err := Compile(seedRepo(), Options{Host: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	seed2, err := Compile(seedRepo(), Options{Host: "node-2"})
	if err != nil {
		t.Fatal(err)
	}
	byCase := map[string]*nft.Ruleset{}
	for _, tc := range goldenCases() {
		byCase[tc.name] = compileCase(t, tc)
	}
	a := netip.MustParseAddr("198.18.0.1")
	tests := []struct {
		name    string
		rs      *nft.Ruleset
		p       simulate.Packet
		verdict nft.VerdictKind
		comment string // of the deciding rule; "" for the policy
	}{
		// The seed: WEB serves 80/443 and ping to anyone.
		{"outside to web-1 tcp 80", seed1, tcp(uplink, "caliweb1", outv4, web1v4, 80), nft.Accept, "WEB inbound 1"},
		{"outside to web-1 tcp 443 over v6", seed1, tcp(uplink, "caliweb1", outv6, web1v6, 443), nft.Accept, "WEB inbound 1"},
		{"outside to web-1 tcp 22", seed1, tcp(uplink, "caliweb1", outv4, web1v4, 22), nft.Drop, "to web-1: no profile accepted"},
		{"outside pings web-1", seed1, icmp(uplink, "caliweb1", outv4, web1v4, 8), nft.Accept, "WEB inbound 2"},
		{"outside pings web-1 over v6: icmp rule is v4 only", seed1, icmp(uplink, "caliweb1", outv6, web1v6, 128), nft.Drop, "to web-1: no profile accepted"},
		// APP 7890 only from endpoints carrying APP_7890 (the WEB endpoints, on any host).
		{"web-1 to app-1 7890 (same host)", seed1, withMAC(tcp("caliweb1", "caliapp1", web1v4, app1v4, 7890), web1MAC), nft.Accept, "APP inbound 1"},
		{"web-2 (remote) to app-1 7890", seed1, tcp(uplink, "caliapp1", web2v4, app1v4, 7890), nft.Accept, "APP inbound 1"},
		{"app-2 (remote, no tag) to app-1 7890", seed1, tcp(uplink, "caliapp1", app2v4, app1v4, 7890), nft.Drop, "to app-1: no profile accepted"},
		{"outside to app-1 7890", seed1, tcp(uplink, "caliapp1", outv4, app1v4, 7890), nft.Drop, "to app-1: no profile accepted"},
		{"web-1 to app-1 7891", seed1, withMAC(tcp("caliweb1", "caliapp1", web1v4, app1v4, 7891), web1MAC), nft.Drop, "to app-1: no profile accepted"},
		{"app-1 to outside (allow all out)", seed1, tcp("caliapp1", uplink, app1v4, outv4, 5432), nft.Accept, "APP outbound 1"},
		// On node-2 web-1 is remote: its traffic is not dispatched into from- chains there.
		{"node-2: web-1 (remote) to app-2 7890", seed2, tcp(uplink, "caliapp2", web1v4, app2v4, 7890), nft.Accept, "APP inbound 1"},
		{"node-2: caliweb1 is not a local interface", seed2, tcp("caliweb1", uplink, netip.MustParseAddr("198.19.0.1"), outv4, 80), nft.Accept, ""},
		// Anti-spoofing.
		{"web-1 spoofs its source", seed1, withMAC(tcp("caliweb1", uplink, web2v4, outv4, 80), web1MAC), nft.Drop, "from web-1: ipv4 source not the endpoint's"},
		{"web-1 wrong MAC", seed1, tcp("caliweb1", uplink, web1v4, outv4, 80), nft.Drop, "from web-1: source mac not the endpoint's"},
		{"app-1 has no v6 nets", seed1, tcp("caliapp1", uplink, netip.MustParseAddr("fd00:2::2"), outv6, 80), nft.Drop, "from app-1: no ipv6 nets"},
		// Conntrack.
		{"established reply to web-1", seed1, withCt(tcp(uplink, "caliweb1", outv4, web1v4, 22), nft.CtEstablished), nft.Accept, ""},
		{"invalid to web-1", seed1, withCt(tcp(uplink, "caliweb1", outv4, web1v4, 80), nft.CtInvalid), nft.Drop, ""},
		// Endpoint to host.
		{"app-1 DNS to host", seed1, udp(nft.HookInput, "caliapp1", "", app1v4, hostv4, 5353, 53), nft.Accept, "endpoint to host: dns from own address"},
		{"app-1 DHCP from 0.0.0.0", seed1, udp(nft.HookInput, "caliapp1", "", netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"), 68, 67), nft.Accept, "endpoint to host: dhcp from unspecified or link-local"},
		// No allowance to the host bypasses anti-spoofing (SPEC §3): the MAC first, then the
		// unspecified or link-local sources of DHCP and ND, then only the endpoint's own nets.
		{"web-1 DHCP from a forged source", seed1, withMAC(udp(nft.HookInput, "caliweb1", "", forged4, hostv4, 68, 67), web1MAC), nft.Drop, "host web-1: ipv4 source not the endpoint's"},
		{"web-1 DHCP from its own address", seed1, withMAC(udp(nft.HookInput, "caliweb1", "", web1v4, hostv4, 68, 67), web1MAC), nft.Accept, "endpoint to host: dhcp from own address"},
		{"web-1 DHCP from 169.254/16", seed1, withMAC(udp(nft.HookInput, "caliweb1", "", netip.MustParseAddr("169.254.7.7"), hostv4, 68, 67), web1MAC), nft.Accept, "endpoint to host: dhcp from unspecified or link-local"},
		{"web-1 DHCP from 0.0.0.0 with a forged MAC", seed1, udp(nft.HookInput, "caliweb1", "", netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"), 68, 67), nft.Drop, "host web-1: source mac not the endpoint's"},
		{"web-1 DHCPv6 from link-local", seed1, withMAC(udp(nft.HookInput, "caliweb1", "", linkLocal6, gw6, 546, 547), web1MAC), nft.Accept, "endpoint to host: dhcpv6 from unspecified or link-local"},
		{"web-1 DHCPv6 from its own address", seed1, withMAC(udp(nft.HookInput, "caliweb1", "", web1v6, outv6, 546, 547), web1MAC), nft.Accept, "endpoint to host: dhcpv6 from own address"},
		{"web-1 DHCPv6 from a forged source", seed1, withMAC(udp(nft.HookInput, "caliweb1", "", forged6, outv6, 546, 547), web1MAC), nft.Drop, "host web-1: ipv6 source not the endpoint's"},
		{"web-1 DHCPv6 with a forged MAC", seed1, udp(nft.HookInput, "caliweb1", "", linkLocal6, gw6, 546, 547), nft.Drop, "host web-1: source mac not the endpoint's"},
		{"web-1 NS from ::", seed1, withMAC(onInput(icmp("caliweb1", "", netip.IPv6Unspecified(), gw6, 135)), web1MAC), nft.Accept, "endpoint to host: neighbour discovery from unspecified or link-local"},
		{"web-1 NA from link-local", seed1, withMAC(onInput(icmp("caliweb1", "", linkLocal6, gw6, 136)), web1MAC), nft.Accept, "endpoint to host: neighbour discovery from unspecified or link-local"},
		{"web-1 RS from its own address", seed1, withMAC(onInput(icmp("caliweb1", "", web1v6, outv6, 133)), web1MAC), nft.Accept, "endpoint to host: neighbour discovery from own address"},
		{"web-1 NS from a forged source", seed1, withMAC(onInput(icmp("caliweb1", "", forged6, outv6, 135)), web1MAC), nft.Drop, "host web-1: ipv6 source not the endpoint's"},
		{"web-1 NS with a forged MAC", seed1, onInput(icmp("caliweb1", "", linkLocal6, gw6, 135)), nft.Drop, "host web-1: source mac not the endpoint's"},
		{"web-1 MLD query from link-local", seed1, withMAC(onInput(icmp("caliweb1", "", linkLocal6, gw6, 130)), web1MAC), nft.Drop, "host web-1: ipv6 source not the endpoint's"},
		{"web-1 MLD report from its own address", seed1, withMAC(onInput(icmp("caliweb1", "", web1v6, outv6, 131)), web1MAC), nft.Drop, "host web-1: not dhcp, dns or neighbour discovery"},
		{"web-1 MLD done from its own address", seed1, withMAC(onInput(icmp("caliweb1", "", web1v6, outv6, 132)), web1MAC), nft.Drop, "host web-1: not dhcp, dns or neighbour discovery"},
		{"web-1 router advertisement", seed1, withMAC(onInput(icmp("caliweb1", "", linkLocal6, gw6, 134)), web1MAC), nft.Drop, "host web-1: ipv6 source not the endpoint's"},
		{"web-1 redirect", seed1, withMAC(onInput(icmp("caliweb1", "", web1v6, outv6, 137)), web1MAC), nft.Drop, "host web-1: not dhcp, dns or neighbour discovery"},
		{"web-1 DNS from link-local", seed1, withMAC(udp(nft.HookInput, "caliweb1", "", linkLocal6, gw6, 5353, 53), web1MAC), nft.Drop, "host web-1: ipv6 source not the endpoint's"},
		{"web-1 DNS with a forged MAC", seed1, udp(nft.HookInput, "caliweb1", "", web1v4, hostv4, 5353, 53), nft.Drop, "host web-1: source mac not the endpoint's"},
		// Conntrack comes after anti-spoofing: a forged packet that matches another flow's
		// conntrack entry is still dropped.
		{"web-1 forged source in an established flow", seed1, withCt(withMAC(tcp("caliweb1", uplink, web2v4, outv4, 80), web1MAC), nft.CtEstablished), nft.Drop, "from web-1: ipv4 source not the endpoint's"},
		{"web-1 forged MAC in an established flow", seed1, withCt(tcp("caliweb1", uplink, web1v4, outv4, 80), nft.CtEstablished), nft.Drop, "from web-1: source mac not the endpoint's"},
		{"web-1 forged DNS in an established flow to host", seed1, withCt(withMAC(udp(nft.HookInput, "caliweb1", "", forged4, hostv4, 5353, 53), web1MAC), nft.CtEstablished), nft.Drop, "host web-1: ipv4 source not the endpoint's"},
		{"web-1 established reply to host", seed1, withCt(withMAC(onInput(tcp("caliweb1", "", web1v4, hostv4, 22)), web1MAC), nft.CtEstablished), nft.Accept, ""},
		{"app-1 ssh to host", seed1, onInput(tcp("caliapp1", "", app1v4, hostv4, 22)), nft.Drop, "host app-1: not dhcp, dns or neighbour discovery"},
		{"app-1 spoofed DNS to host", seed1, udp(nft.HookInput, "caliapp1", "", outv4, hostv4, 5353, 53), nft.Drop, "host app-1: ipv4 source not the endpoint's"},
		// Multiple profiles: ADMIN's deny wins before WEB's allow; ADMIN's allow of 22.
		{"multi: telnet denied by first profile", byCase["multi-profile"], tcp(uplink, "caliweb1", outv4, web1v4, 23), nft.Drop, "ADMIN inbound 1"},
		{"multi: 80 falls through to WEB", byCase["multi-profile"], tcp(uplink, "caliweb1", outv4, web1v4, 80), nft.Accept, "WEB inbound 1"},
		{"multi: ssh from admin net", byCase["multi-profile"], tcp(uplink, "caliweb1", netip.MustParseAddr("198.18.100.7"), web1v4, 22), nft.Accept, "ADMIN inbound 2"},
		{"multi: ssh from elsewhere", byCase["multi-profile"], tcp(uplink, "caliweb1", outv4, web1v4, 22), nft.Drop, "to web-1: no profile accepted"},
		// Log continues; deny of a tag nobody carries never fires.
		{"log then allow udp", byCase["log"], udp(nft.HookForward, uplink, "calia", outv4, a, 1, 2), nft.Accept, "P inbound 3"},
		{"deny: tag BAD carried by a remote endpoint", byCase["deny"], udp(nft.HookForward, uplink, "calia", netip.MustParseAddr("198.18.0.66"), a, 1, 2), nft.Drop, "P inbound 1"},
		{"deny: tcp denied", byCase["deny"], tcp(uplink, "calia", outv4, a, 80), nft.Drop, "P inbound 2"},
		{"deny: udp allowed", byCase["deny"], udp(nft.HookForward, uplink, "calia", outv4, a, 1, 2), nft.Accept, "P inbound 3"},
		// Negations: !dst_tag of an empty tag matches everything, a positive one nothing.
		{"negations: not tcp denied", byCase["negations"], udp(nft.HookForward, uplink, "calia", outv4, a, 1, 2), nft.Drop, "N inbound 1"},
		{"negations: !src_tag N from outside", byCase["negations"], tcp(uplink, "calia", outv4, a, 80), nft.Accept, "N inbound 2"},
		// Inactive and profile-less endpoints drop everything, DHCP included.
		{"inactive: to", byCase["inactive"], tcp(uplink, "calioff", outv4, netip.MustParseAddr("198.18.0.9"), 80), nft.Drop, "to off: endpoint inactive"},
		{"inactive: dhcp to host", byCase["inactive"], udp(nft.HookInput, "calioff", "", netip.MustParseAddr("0.0.0.0"), netip.MustParseAddr("255.255.255.255"), 68, 67), nft.Drop, "host off: endpoint inactive"},
		{"profile-less: from", byCase["profile-less"], tcp("calibare", uplink, netip.MustParseAddr("198.18.0.9"), outv4, 80), nft.Drop, "from bare: endpoint has no profiles"},
		// Family-specific rules are not widened.
		{"family: v6 packet from the v4 net's tag member", byCase["family-specific"], tcp(uplink, "calia", netip.MustParseAddr("fd00::a"), netip.MustParseAddr("fd00::a"), 80), nft.Accept, "F inbound 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := simulate.Trace(tt.rs, tt.p)
			if res.Err != nil {
				t.Fatalf("trace error: %v\n%v", res.Err, res.Steps)
			}
			// The deciding rule of some base chain (an accept ends only its base chain).
			var comments []string
			found := tt.comment == ""
			for _, b := range res.Bases {
				if b.Rule != nil {
					comments = append(comments, b.Rule.Comment)
					found = found || b.Rule.Comment == tt.comment
				}
			}
			if res.Verdict != tt.verdict || !found {
				t.Errorf("%v: verdict %s by %q, want %s by %q\n%v", tt.p, res.Verdict, comments, tt.verdict, tt.comment, res.Steps)
			}
		})
	}
}
