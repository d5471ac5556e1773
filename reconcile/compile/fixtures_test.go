package compile

import (
	"fmt"
	"strings"

	"github.com/reconcile-dev/reconcile/schema"
)

func ip(n int) *int { return &n }

func pr(ps ...any) []schema.PortRange {
	var out []schema.PortRange
	for _, p := range ps {
		switch v := p.(type) {
		case int:
			out = append(out, schema.PortRange{First: uint16(v), Last: uint16(v)})
		case [2]int:
			out = append(out, schema.PortRange{First: uint16(v[0]), Last: uint16(v[1])})
		default:
			panic(fmt.Sprintf("bad port %v", p))
		}
	}
	return out
}

func profile(id string, tags []string, in, out []schema.Rule) *schema.Profile {
	return &schema.Profile{ID: id, Tags: tags, Inbound: in, Outbound: out, Path: "profiles/" + id + ".yaml"}
}

// endpoint builds an active endpoint; nets are sorted into v4 and v6 by their text.
func endpoint(id, host, iface string, nets []string, profiles ...string) *schema.Endpoint {
	e := &schema.Endpoint{ID: id, Host: host, Interface: iface, ProfileIDs: profiles, State: schema.StateActive, Path: "endpoints/lab.yaml"}
	for _, n := range nets {
		if strings.Contains(n, ":") {
			e.IPv6Nets = append(e.IPv6Nets, n)
		} else {
			e.IPv4Nets = append(e.IPv4Nets, n)
		}
	}
	return e
}

func repo(profiles []*schema.Profile, eps ...*schema.Endpoint) *schema.Repository {
	r := &schema.Repository{Profiles: map[string]*schema.Profile{}, Endpoints: eps}
	for _, p := range profiles {
		r.Profiles[p.ID] = p
	}
	return r
}

var allowAll = []schema.Rule{{Action: "allow"}}

// The seed's final WEB and APP profiles (AdvancedNetworkPolicy.md).
func seedProfiles() []*schema.Profile {
	return []*schema.Profile{
		profile("WEB", []string{"WEB", "APP_7890"}, []schema.Rule{
			{Action: "allow", Protocol: "tcp", DstPorts: pr(80, 443)},
			{Action: "allow", Protocol: "icmp", ICMPType: ip(8)},
		}, allowAll),
		profile("APP", []string{"APP"}, []schema.Rule{
			{Action: "allow", Protocol: "tcp", DstPorts: pr(7890), SrcTag: "APP_7890"},
			{Action: "allow", Protocol: "icmp", ICMPType: ip(8)},
		}, allowAll),
	}
}

// seedRepo is the seed's profiles with endpoints like the bundled lab's: two web servers and
// an app server on two hosts, one web server dual-stack with a MAC.
func seedRepo() *schema.Repository {
	web1 := endpoint("web-1", "node-1", "caliweb1", []string{"198.18.1.2/32", "fd00:1::2/128"}, "WEB")
	web1.MAC = "EE:EE:EE:00:00:01"
	return repo(seedProfiles(),
		web1,
		endpoint("app-1", "node-1", "caliapp1", []string{"198.18.2.2/32"}, "APP"),
		endpoint("web-2", "node-2", "caliweb2", []string{"198.18.1.3/32"}, "WEB"),
		endpoint("app-2", "node-2", "caliapp2", []string{"198.18.2.3/32"}, "APP"),
	)
}
