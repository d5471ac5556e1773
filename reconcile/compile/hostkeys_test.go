package compile

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/repogen"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// keysRepo is the repository of the hand-written HostKeys cases:
//
//	node-1: web-1 (WEB), app-1 (APP)     WEB allows tcp 80 from tag APP (both families)
//	node-2: db-1 (DB), lone-1 (LONE)     APP allows tcp 5432 from tag WEB, IPv4 only
//	node-3: lone-2 (LONE), off-1 (WEB,   DB allows tcp 5432 and 6432 from tag APP
//	        inactive)                    LONE allows tcp 22, names no tag
//	node-4: web-2 (WEB)
//
// Tags referenced: APP by node-1, node-2, node-4; WEB (IPv4) by node-1. LONE and DB by none.
func keysRepo() *schema.Repository {
	off := endpoint("off-1", "node-3", "calioff1", []string{"198.18.9.1/32", "fd00:9::1/128"}, "WEB")
	off.State = schema.StateInactive
	web1 := endpoint("web-1", "node-1", "caliweb1", []string{"198.18.1.1/32", "fd00:1::1/128"}, "WEB")
	web1.MAC = "ee:ee:ee:00:00:01"
	return repo([]*schema.Profile{
		profile("WEB", []string{"WEB"}, []schema.Rule{{Action: "allow", Protocol: "tcp", DstPorts: pr(80), SrcTag: "APP"}}, allowAll),
		profile("APP", []string{"APP"}, []schema.Rule{{Action: "allow", Protocol: "tcp", DstPorts: pr(5432), SrcTag: "WEB", IPVersion: 4}}, allowAll),
		profile("DB", []string{"DB"}, []schema.Rule{
			{Action: "allow", Protocol: "tcp", DstPorts: pr(5432), SrcTag: "APP"},
			{Action: "deny", Protocol: "tcp", DstPorts: pr(6432), SrcTag: "APP"},
		}, allowAll),
		profile("LONE", []string{"LONE"}, []schema.Rule{{Action: "allow", Protocol: "tcp", DstPorts: pr(22)}}, allowAll),
	},
		web1,
		endpoint("app-1", "node-1", "caliapp1", []string{"198.18.2.0/24", "fd00:2::/64"}, "APP"),
		endpoint("db-1", "node-2", "calidb1", []string{"198.18.3.1/32"}, "DB"),
		endpoint("lone-1", "node-2", "calilone1", []string{"198.18.4.1/32"}, "LONE"),
		endpoint("lone-2", "node-3", "calilone2", []string{"198.18.4.2/32"}, "LONE"),
		off,
		endpoint("web-2", "node-4", "caliweb2", []string{"198.18.1.2/32"}, "WEB"),
	)
}

// keyCase mutates a copy of base and checks the HostKeys contract for every host of both
// trees (equal keys: equal outcomes), that the keys of exactly the hosts changed change, and
// returns the head's outcomes.
func keyCase(t *testing.T, name string, base *schema.Repository, mutate func(r *schema.Repository), changed ...string) (head *schema.Repository, outcomes map[string]string) {
	t.Helper()
	head = cloneRepo(base)
	mutate(head)
	bh, bk := HostKeys(base, Options{})
	hh, hk := HostKeys(head, Options{})
	checkHosts(t, name+" (base)", base, bh, bk)
	checkHosts(t, name+" (head)", head, hh, hk)
	var got []string
	outcomes = map[string]string{}
	for _, h := range hh {
		oh := outcome(head, h, "", nil)
		outcomes[h] = oh
		b, ok := bk[h]
		if !ok {
			got = append(got, h)
			continue
		}
		ob := outcome(base, h, "", nil)
		if b == hk[h] && ob != oh {
			t.Fatalf("%s: host %s kept its key but its outcome changed:\nbase: %s\nhead: %s", name, h, ob, oh)
		}
		if b != hk[h] {
			got = append(got, h)
		}
	}
	for _, h := range bh {
		if _, ok := hk[h]; !ok {
			got = append(got, h)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, changed) {
		t.Errorf("%s: keys of %q changed, want %q", name, got, changed)
	}
	return head, outcomes
}

func endpointOf(r *schema.Repository, id string) *schema.Endpoint {
	for _, e := range r.Endpoints {
		if e != nil && e.ID == id {
			return e
		}
	}
	panic("no endpoint " + id)
}

func TestHostKeysCases(t *testing.T) {
	base := keysRepo()
	for _, h := range []string{"node-1", "node-2", "node-3", "node-4"} {
		if o := outcome(base, h, "", nil); !strings.HasPrefix(o, "ruleset: ") {
			t.Fatalf("the base does not compile for %s: %s", h, o)
		}
	}
	_, keys := HostKeys(base, Options{})
	for h, k := range keys {
		if !regexp.MustCompile(`^` + HostKeyVersion + `:[0-9a-f]{64}$`).MatchString(k) {
			t.Fatalf("%s: key %q is not %s:<sha256 hex>", h, k, HostKeyVersion)
		}
	}

	// Endpoints: only their own host, unless they are members of a referenced tag.
	keyCase(t, "net of an endpoint whose tag no rule names", base, func(r *schema.Repository) {
		endpointOf(r, "lone-1").IPv4Nets = []string{"198.18.4.9/32"}
	}, "node-2")
	keyCase(t, "net of a member of tag APP, on node-1", base, func(r *schema.Repository) {
		endpointOf(r, "app-1").IPv4Nets = []string{"198.18.5.0/24"}
	}, "node-1", "node-2", "node-4")
	keyCase(t, "prefix length of a member of tag APP, same address", base, func(r *schema.Repository) {
		endpointOf(r, "app-1").IPv4Nets = []string{"198.18.2.0/25"}
	}, "node-1", "node-2", "node-4")
	keyCase(t, "IPv6 net of a member of tag WEB, which APP names in IPv4 only", base, func(r *schema.Repository) {
		endpointOf(r, "web-2").IPv6Nets = []string{"fd00:5::1/128"}
	}, "node-4")
	keyCase(t, "a net split in halves: the tag set and the anti-spoof rule merge to the same prefixes", base, func(r *schema.Repository) {
		endpointOf(r, "app-1").IPv4Nets = []string{"198.18.2.128/25", "198.18.2.0/25"}
	})
	keyCase(t, "nets written otherwise: no length, in the other list, another order", base, func(r *schema.Repository) {
		e := endpointOf(r, "web-1")
		e.IPv4Nets, e.IPv6Nets = []string{"fd00:1::1"}, []string{"198.18.1.1"}
	})
	_, o := keyCase(t, "an unparsable net of an active endpoint whose tag no rule names", base, func(r *schema.Repository) {
		endpointOf(r, "lone-1").IPv4Nets = []string{"198.18.4.300"}
	}, "node-2")
	if !strings.Contains(o["node-2"], `"198.18.4.300" is not an IP address`) {
		t.Errorf("node-2: %s, want the net error", o["node-2"])
	}
	keyCase(t, "a tag member on another host joins tag APP", base, func(r *schema.Repository) {
		endpointOf(r, "lone-2").ProfileIDs = []string{"LONE", "APP"}
	}, "node-1", "node-2", "node-3", "node-4")
	keyCase(t, "mac of an active endpoint", base, func(r *schema.Repository) {
		endpointOf(r, "web-2").MAC = "ee:ee:ee:00:00:02"
	}, "node-4")
	keyCase(t, "interface of an active endpoint", base, func(r *schema.Repository) {
		endpointOf(r, "web-2").Interface = "caliweb9"
	}, "node-4")
	keyCase(t, "state of an active endpoint (it stays a member of tag WEB)", base, func(r *schema.Repository) {
		endpointOf(r, "web-2").State = schema.StateInactive
	}, "node-4")
	keyCase(t, "endpoint id", base, func(r *schema.Repository) {
		endpointOf(r, "db-1").ID = "db-9"
	}, "node-2")
	keyCase(t, "profile order of an endpoint", base, func(r *schema.Repository) {
		endpointOf(r, "db-1").ProfileIDs = []string{"LONE", "DB"}
	}, "node-2")
	keyCase(t, "endpoint moved to another host", base, func(r *schema.Repository) {
		endpointOf(r, "lone-1").Host = "node-3"
	}, "node-2", "node-3")
	keyCase(t, "endpoint moved to a new host", base, func(r *schema.Repository) {
		endpointOf(r, "web-2").Host = "node-5"
	}, "node-4", "node-5")
	keyCase(t, "endpoints of different hosts reordered (each host's in the same order)", base, func(r *schema.Repository) {
		n := len(r.Endpoints)
		r.Endpoints = append(r.Endpoints[n-1:], r.Endpoints[:n-1]...)
	})
	keyCase(t, "the endpoints of one host reordered", base, func(r *schema.Repository) {
		r.Endpoints[0], r.Endpoints[1] = r.Endpoints[1], r.Endpoints[0]
	})
	// The order of a host's endpoints decides which of two failures Compile reports.
	for _, c := range []struct {
		name, want0, want1 string
		spoil              func(web1, app1 *schema.Endpoint)
	}{
		{"no interface", `endpoint "web-1" has no interface`, `endpoint "app-1" has no interface`,
			func(a, b *schema.Endpoint) { a.Interface, b.Interface = "", "" }},
		{"one interface", `endpoints "web-1" and "app-1" both use interface`, `endpoints "app-1" and "web-1" both use interface`,
			func(a, b *schema.Endpoint) { b.Interface = a.Interface }},
		{"bad macs", `"x1" is not a MAC address`, `"x2" is not a MAC address`,
			func(a, b *schema.Endpoint) { a.MAC, b.MAC = "x1", "x2" }},
		{"bad nets", `"198.18.1.300" is not`, `"198.18.2.300" is not`,
			func(a, b *schema.Endpoint) {
				a.IPv6Nets, b.IPv4Nets = []string{"198.18.1.300"}, []string{"198.18.2.300"}
			}},
		{"missing profiles", `profile "M1" does not exist`, `profile "M2" does not exist`,
			func(a, b *schema.Endpoint) { a.ProfileIDs, b.ProfileIDs = []string{"M1"}, []string{"APP", "M2"} }},
	} {
		twoBad := cloneRepo(base)
		c.spoil(endpointOf(twoBad, "web-1"), endpointOf(twoBad, "app-1"))
		_, o := keyCase(t, "two failing endpoints of one host reordered: "+c.name, twoBad, func(r *schema.Repository) {
			r.Endpoints[0], r.Endpoints[1] = r.Endpoints[1], r.Endpoints[0]
		}, "node-1")
		if o0 := outcome(twoBad, "node-1", "", nil); !strings.Contains(o0, c.want0) || !strings.Contains(o["node-1"], c.want1) {
			t.Errorf("%s: node-1 fails with %s, then %s; want %s, then %s", c.name, o0, o["node-1"], c.want0, c.want1)
		}
	}
	_, o = keyCase(t, "two endpoints on one interface", base, func(r *schema.Repository) {
		endpointOf(r, "lone-2").Interface = "calioff1"
	}, "node-3")
	if !strings.Contains(o["node-3"], "both use interface") {
		t.Errorf("node-3: %s, want the interface error", o["node-3"])
	}

	// Inactive endpoints: only id and interface count locally; their nets count for tags.
	keyCase(t, "mac, nets and profiles of an inactive endpoint carrying no named tag set", base, func(r *schema.Repository) {
		e := endpointOf(r, "off-1")
		e.MAC, e.IPv6Nets = "ee:ee:ee:00:00:09", []string{"fd00:9::2/128"}
		e.ProfileIDs = []string{"WEB", "LONE", "MISSING"}
	})
	keyCase(t, "an inactive endpoint leaves tag WEB", base, func(r *schema.Repository) {
		endpointOf(r, "off-1").ProfileIDs = []string{"LONE"}
	}, "node-1")
	keyCase(t, "an inactive endpoint becomes active", base, func(r *schema.Repository) {
		endpointOf(r, "off-1").State = ""
	}, "node-3")

	// Profiles: the hosts that use them; their tags only through the members.
	keyCase(t, "rule order of a profile", base, func(r *schema.Repository) {
		slices.Reverse(r.Profiles["DB"].Inbound)
	}, "node-2")
	keyCase(t, "a rule field of a profile", base, func(r *schema.Repository) {
		r.Profiles["LONE"].Inbound[0].DstPorts = pr(2222)
	}, "node-2", "node-3")
	keyCase(t, "log prefix of an allow rule (read only for log rules)", base, func(r *schema.Repository) {
		r.Profiles["LONE"].Inbound[0].LogPrefix = "ssh"
	})
	keyCase(t, "a log rule added", base, func(r *schema.Repository) {
		r.Profiles["LONE"].Inbound = append(r.Profiles["LONE"].Inbound, schema.Rule{Action: "log"})
	}, "node-2", "node-3")
	logged := cloneRepo(base)
	logged.Profiles["LONE"].Inbound[0].Action = "log"
	keyCase(t, "log prefix of a log rule", logged, func(r *schema.Repository) {
		r.Profiles["LONE"].Inbound[0].LogPrefix = "ssh"
	}, "node-2", "node-3")
	keyCase(t, "a profile no active endpoint uses", base, func(r *schema.Repository) {
		r.Profiles["UNUSED"] = profile("UNUSED", []string{"APP"}, allowAll, allowAll)
	}) // it carries APP, but no endpoint has it: no member changes
	keyCase(t, "profile tag list: LONE carries APP", base, func(r *schema.Repository) {
		r.Profiles["LONE"].Tags = []string{"LONE", "APP"}
	}, "node-1", "node-2", "node-4") // node-3 names no tag: its ruleset is unchanged
	keyCase(t, "profile tag list reordered", base, func(r *schema.Repository) {
		r.Profiles["LONE"].Tags = []string{"X", "LONE"}
	})
	_, o = keyCase(t, "profile deleted while referenced", base, func(r *schema.Repository) {
		delete(r.Profiles, "DB")
	}, "node-2")
	if !strings.Contains(o["node-2"], `profile "DB" does not exist`) {
		t.Errorf("node-2: %s, want the missing profile error", o["node-2"])
	}
	keyCase(t, "profile carrying a named tag deleted", base, func(r *schema.Repository) {
		delete(r.Profiles, "APP")
	}, "node-1", "node-2", "node-4")

	// Tag members with an unparsable net: every host naming the tag fails with the first
	// member's error.
	bad := func(r *schema.Repository, id, host, net string) {
		e := endpoint(id, host, "cali"+id, []string{net}, "APP")
		e.State = schema.StateInactive // its own host does not parse its nets
		r.Endpoints = append(r.Endpoints, e)
	}
	broken, o := keyCase(t, "a member of tag APP with an unparsable net", base, func(r *schema.Repository) {
		bad(r, "bad1", "node-3", "198.18.7.300")
		bad(r, "bad2", "node-3", "198.18.7.400")
	}, "node-1", "node-2", "node-3", "node-4")
	for _, h := range []string{"node-1", "node-2", "node-4"} {
		if !strings.Contains(o[h], `endpoint "bad1": "198.18.7.300" is not an IP address`) {
			t.Errorf("%s: %s, want the first bad member's error", h, o[h])
		}
	}
	if !strings.HasPrefix(o["node-3"], "ruleset: ") {
		t.Errorf("node-3 names no tag but fails: %s", o["node-3"])
	}
	keyCase(t, "the first bad member's net, otherwise wrong", broken, func(r *schema.Repository) {
		endpointOf(r, "bad1").IPv4Nets = []string{"198.18.7.500"}
	}, "node-1", "node-2", "node-4")
	keyCase(t, "the second bad member's net, otherwise wrong", broken, func(r *schema.Repository) {
		endpointOf(r, "bad2").IPv4Nets = []string{"198.18.7.500"}
	})
	keyCase(t, "the bad members swapped", broken, func(r *schema.Repository) {
		n := len(r.Endpoints)
		r.Endpoints[n-1], r.Endpoints[n-2] = r.Endpoints[n-2], r.Endpoints[n-1]
	}, "node-1", "node-2", "node-4") // node-3: both inactive, neither can fail there
	// web-2 (node-4, active) is a member of WEB, which only node-1 names.
	broken2, o := keyCase(t, "an unparsable net of an active member of tag WEB", base, func(r *schema.Repository) {
		endpointOf(r, "web-2").IPv4Nets = []string{"198.18.1.300"}
	}, "node-1", "node-4")
	for _, h := range []string{"node-1", "node-4"} {
		if !strings.Contains(o[h], `endpoint "web-2": "198.18.1.300" is not an IP address`) {
			t.Errorf("%s: %s, want web-2's error", h, o[h])
		}
	}
	keyCase(t, "the unparsable net of an active member, otherwise wrong", broken2, func(r *schema.Repository) {
		endpointOf(r, "web-2").IPv4Nets = []string{"198.18.1.400"}
	}, "node-1", "node-4")
	keyCase(t, "the first bad member fixed (the second's error now)", broken, func(r *schema.Repository) {
		endpointOf(r, "bad1").IPv4Nets = []string{"198.18.7.1"}
	}, "node-1", "node-2", "node-4") // node-3: bad1 is inactive, its nets unread there
}

// TestHostKeysTable: the table is keyed (as Compile defaults it), and a table Compile refuses
// gives every host an error.
func TestHostKeysTable(t *testing.T) {
	r := keysRepo()
	_, empty := HostKeys(r, Options{})
	_, def := HostKeys(r, Options{Table: nft.DefaultTable})
	_, other := HostKeys(r, Options{Table: "calico"})
	_, invalid := HostKeys(r, Options{Table: "1bad"})
	for h := range empty {
		if empty[h] != def[h] {
			t.Errorf("%s: no table and %q give different keys", h, nft.DefaultTable)
		}
		if other[h] == def[h] || invalid[h] == def[h] {
			t.Errorf("%s: another table, same key", h)
		}
		if o := outcome(r, h, "1bad", nil); !strings.HasPrefix(o, "error: ") {
			t.Errorf("%s: table 1bad: %s", h, o)
		}
		if outcome(r, h, "calico", nil) == outcome(r, h, "", nil) {
			t.Errorf("%s: the table does not change the ruleset", h)
		}
	}
	// Hosts are every host an endpoint names, with an empty host and nil endpoints too.
	r.Endpoints = append(r.Endpoints, nil, endpoint("nohost", "", "calinone", nil, "LONE"))
	hosts, keys := HostKeys(r, Options{})
	checkHosts(t, "empty host", r, hosts, keys)
	if hosts[0] != "" || !strings.HasPrefix(outcome(r, "", "", nil), "error: ") {
		t.Errorf("hosts %q", hosts)
	}
	if h, k := HostKeys(nil, Options{}); len(h) != 0 || len(k) != 0 {
		t.Errorf("nil repository: %q %v", h, k)
	}
}

// TestHostKeysWorkers: the keys do not depend on the number of goroutines (run with -race:
// the shape is big enough for every stage to run in parallel).
func TestHostKeysWorkers(t *testing.T) {
	files, err := repogen.Shape{Hosts: 40, PerHost: 10, Profiles: 80, Tags: 80}.Files(3)
	if err != nil {
		t.Fatal(err)
	}
	r := loadFiles(t, files)
	r.Endpoints[5].IPv4Nets = append(r.Endpoints[5].IPv4Nets, "198.18.0.300") // a tag error too
	h1, k1 := hostKeys(r, Options{}, 1)
	h4, k4 := hostKeys(r, Options{}, 4)
	if !slices.Equal(h1, h4) || !reflect.DeepEqual(k1, k4) || len(h1) != 40 {
		t.Fatalf("1 worker: %d hosts, 4 workers: %d hosts, keys equal: %v", len(h1), len(h4), reflect.DeepEqual(k1, k4))
	}
	distinct := map[string]bool{}
	for _, k := range k1 {
		distinct[k] = true
	}
	if len(distinct) != len(k1) {
		t.Fatalf("%d distinct keys for %d hosts", len(distinct), len(k1))
	}
}

// TestValidMAC: validMAC is what antiSpoof takes (net.ParseMAC, 6 bytes).
func TestValidMAC(t *testing.T) {
	for _, m := range []string{"", "ee:ee:ee:00:00:01", "EE-EE-EE-00-0a-FF", "ee:ee-ee:00:00:01", "ee:ee:ee:00:00:0g",
		"ee:ee:ee:00:00:0G", "ee:ee:ee:00:00", "eeee.ee00.0001", "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
		"02:00:5e:10:00:00:00:01", "ee:ee:ee:00:00:01:", "ee;ee;ee;00;00;01", "zz", "e:ee:ee:00:00:01x", "ee:ee:ee:00:00:/1", "ee:ee:ee:00:00:`1"} {
		hw, err := net.ParseMAC(m)
		want := m == "" || err == nil && len(hw) == 6
		if got := validMAC(m); got != want {
			t.Errorf("validMAC(%q) = %v, want %v", m, got, want)
		}
	}
}

// TestHostKeysFieldsKnown: the fields of the schema types HostKeys keys are the ones it was
// written for. A new field fails here: key it in hostkeys.go (if Compile reads it), bump
// HostKeyVersion, and add it to this list.
func TestHostKeysFieldsKnown(t *testing.T) {
	for _, c := range []struct {
		typ  reflect.Type
		want string
	}{
		{reflect.TypeFor[schema.Endpoint](), "ID Host Interface MAC IPv4Nets IPv6Nets ProfileIDs State Path Pos"},
		{reflect.TypeFor[schema.Profile](), "ID Tags Inbound Outbound Path Pos"},
		{reflect.TypeFor[schema.Rule](), "Action Protocol SrcTag SrcNet SrcPorts DstTag DstNet DstPorts ICMPType ICMPCode IPVersion LogPrefix NotProtocol NotSrcTag NotSrcNet NotSrcPorts NotDstTag NotDstNet NotDstPorts NotICMPType NotICMPCode Pos"},
		{reflect.TypeFor[schema.Repository](), "Profiles Endpoints Tests"},
		{reflect.TypeFor[Options](), "Host Table Tags"},
	} {
		var got []string
		for i := range c.typ.NumField() {
			got = append(got, c.typ.Field(i).Name)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s has fields %s; HostKeys was written for %s", c.typ, strings.Join(got, " "), c.want)
		}
	}
}

// TestMergeSorted: the tag sets HostKeys hashes are MergePrefixes's, on hand-picked and
// random lists of prefixes (clustered so that they contain and neighbour each other).
func TestMergeSorted(t *testing.T) {
	cases := [][]string{
		{"198.18.2.0/25", "198.18.2.128/25"},
		{"198.18.0.0/16", "198.18.3.4/32", "198.18.0.0/16"},
		{"0.0.0.0/0", "198.18.0.0/15"},
		{"198.18.0.1/32", "198.18.0.0/32", "198.18.0.2/31", "198.18.0.4/30"},
		{"fd00::/65", "fd00::8000:0:0:0/65", "fd00:1::1/128"},
		{"::/0", "::1/128"},
		{"fd00::1/127", "fd00::/128"},
		{"128.0.0.0/1", "0.0.0.0/1"},
		{"8000::/1", "::/1"},
		{"fd00::/64", "fd00:0:0:1::/64"},
		{"::ffff:198.18.0.1/128", "::ffff:198.18.0.0/128"},
	}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 3000 {
		var c []string
		v6 := rng.IntN(2) == 0
		for range 1 + rng.IntN(12) {
			if v6 {
				bits := pick(rng, []int{0, 1, 63, 64, 65, 126, 127, 128})
				c = append(c, fmt.Sprintf("fd00::%x:%x/%d", rng.IntN(4), rng.IntN(4), bits))
			} else {
				c = append(c, fmt.Sprintf("198.18.%d.%d/%d", rng.IntN(2), rng.IntN(8), pick(rng, []int{0, 1, 15, 23, 24, 29, 30, 31, 32})))
			}
		}
		cases = append(cases, c)
	}
	for _, c := range cases {
		want := MergePrefixes(pfxs(c...))
		var ns []net128
		for _, p := range pfxs(c...) {
			ns = append(ns, toNet128(p))
		}
		slices.SortFunc(ns, compareNet128)
		got := mergeSorted(nil, slices.Values(ns))
		var back []netip.Prefix
		for _, n := range got {
			var a netip.Addr
			if n.v6 {
				var b [16]byte
				binary.BigEndian.PutUint64(b[:8], n.hi)
				binary.BigEndian.PutUint64(b[8:], n.lo)
				a = netip.AddrFrom16(b)
			} else {
				a = netip.AddrFrom4([4]byte{byte(n.hi >> 56), byte(n.hi >> 48), byte(n.hi >> 40), byte(n.hi >> 32)})
			}
			back = append(back, netip.PrefixFrom(a, int(n.bits)))
		}
		if !slices.Equal(back, want) {
			t.Fatalf("%q: %v, MergePrefixes %v", c, back, want)
		}
	}
}
