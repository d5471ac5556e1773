package e2e

import (
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
)

const (
	seedClient = `endpoints:
  - id: client-1
    host: node-1
    interface: caliclient1
    ipv4_nets: [198.18.1.3/32]
    ipv6_nets: ["fd00:1::3/128"]
    profile_ids: [CLIENT]
`
	seedWeb = `endpoints:
  - id: web-1
    host: node-1
    interface: caliweb1
    mac: "ee:ee:ee:00:01:02"
    ipv4_nets: [198.18.1.2/32]
    ipv6_nets: ["fd00:1::2/128"]
    profile_ids: [WEB]
  - id: web-2
    host: node-2
    interface: caliweb2
    ipv4_nets: [198.18.2.3/32]
    ipv6_nets: ["fd00:2::3/128"]
    profile_ids: [WEB]
`
	seedApp = `endpoints:
  - id: app-1
    host: node-2
    interface: caliapp1
    ipv4_nets: [198.18.2.2/32]
    ipv6_nets: ["fd00:2::2/128"]
    profile_ids: [APP]
`
	// A client profile that carries no tag of interest and accepts nothing from others.
	seedClientProfile = `id: CLIENT
tags: [CLIENT]
inbound_rules:
  - action: allow
    src_tag: CLIENT
outbound_rules:
  - action: allow
`
)

// trimLines drops trailing spaces of every line (calicoctl printed one after "tag WEB").
func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// The seed's worked example (AdvancedNetworkPolicy.md), command by command through the CLI on
// a repository directory, applied after each step to two hosts, with real traffic showing
// exactly the change the seed describes.
func TestSeedWorkedExample(t *testing.T) {
	t.Parallel()
	e := newEnv(t, map[string]string{
		"profiles/CLIENT.yaml":  seedClientProfile,
		"endpoints/client.yaml": seedClient,
	}, seedClient+strings.TrimPrefix(seedWeb, "endpoints:\n")+strings.TrimPrefix(seedApp, "endpoints:\n"),
		[]int{22, 80, 443, 7890}, nil)
	ruleShow := func(p, want string) {
		t.Helper()
		if got := e.must("", "--dir", e.dir, "profile", p, "rule", "show"); trimLines(got) != want {
			t.Errorf("profile %s rule show:\n%s\nwant:\n%s", p, got, want)
		}
	}

	// Before: only the client exists; web and app workloads are not in the repository, so no
	// host enforces them (their hosts have no chains for their interfaces yet).
	e.apply()

	// calicoctl profile add WEB: the default profile lets WEB members reach each other only.
	if out := e.must("", "--dir", e.dir, "profile", "add", "WEB"); strings.TrimSpace(out) != "Created profile WEB" {
		t.Errorf("profile add WEB printed %q", out)
	}
	ruleShow("WEB", "Inbound rules:\n   1 allow from tag WEB\nOutbound rules:\n   1 allow\n")
	e.write("endpoints/web.yaml", seedWeb)
	e.apply()
	e.check(t, "default WEB",
		tcp("web-2", "web-1", 80, true), // another WEB member, across hosts
		tcp("web-2", "web-1", 22, true), // any protocol and port from tag WEB
		tcp6("web-1", "web-2", 443, true),
		ping("web-1", "web-2", true),
		tcp("client-1", "web-1", 80, false), // not a WEB member
		tcp("client-1", "web-2", 443, false),
		ping("client-1", "web-1", false),
		tcp("web-1", "client-1", 80, false), // outbound allowed, but CLIENT's inbound refuses
	)

	// calicoctl profile WEB rule remove inbound --at=1: nobody reaches web any more.
	e.must("", "--dir", e.dir, "profile", "WEB", "rule", "remove", "inbound", "--at=1")
	e.apply()
	e.check(t, "WEB without inbound rules",
		tcp("web-2", "web-1", 80, false),
		ping("web-1", "web-2", false),
		tcp("client-1", "web-1", 80, false),
	)

	// calicoctl profile WEB rule add inbound allow tcp to ports 80,443
	e.must("", "--dir", e.dir, "profile", "WEB", "rule", "add", "inbound", "allow", "tcp", "to", "ports", "80,443")
	e.apply()
	e.check(t, "WEB allows tcp 80,443",
		tcp("client-1", "web-1", 80, true),
		tcp("client-1", "web-1", 443, true),
		tcp("client-1", "web-2", 80, true), // across hosts
		tcp6("client-1", "web-2", 443, true),
		tcp("client-1", "web-1", 22, false),
		tcp("web-2", "web-1", 22, false), // membership no longer helps
		ping("client-1", "web-1", false),
	)

	// calicoctl profile WEB rule add inbound allow icmp type 8
	e.must("", "--dir", e.dir, "profile", "WEB", "rule", "add", "inbound", "allow", "icmp", "type", "8")
	e.apply()
	ruleShow("WEB", "Inbound rules:\n   1 allow tcp to ports 80,443\n   2 allow icmp type 8\nOutbound rules:\n   1 allow\n")
	e.check(t, "WEB allows ping",
		ping("client-1", "web-1", true),
		ping("client-1", "web-2", true),
		ping6("client-1", "web-1", false),             // icmp is IPv4: the rule is not widened to icmpv6
		icmpMsg("client-1", "web-1", 4, 13, 0, false), // only type 8
		tcp("client-1", "web-1", 80, true),
		tcp("client-1", "web-1", 22, false),
	)

	// calicoctl profile add APP (default: only APP members reach it)
	if out := e.must("", "--dir", e.dir, "profile", "add", "APP"); strings.TrimSpace(out) != "Created profile APP" {
		t.Errorf("profile add APP printed %q", out)
	}
	e.write("endpoints/app.yaml", seedApp)
	e.apply()
	e.check(t, "default APP",
		tcp("web-1", "app-1", 7890, false),
		tcp("client-1", "app-1", 7890, false),
		ping("client-1", "app-1", false),
		tcp("app-1", "web-1", 80, true), // APP's outbound allows, WEB's inbound allows 80
		tcp("app-1", "web-2", 22, false),
	)

	// calicoctl profile APP rule update < APP-rules.json
	e.must(testenv.SeedFile(t, "APP-rules.json"), "--dir", e.dir, "profile", "APP", "rule", "update")
	e.apply()
	e.check(t, "APP rules from JSON",
		tcp("web-1", "app-1", 7890, false), // WEB does not carry APP_7890 yet
		tcp("web-2", "app-1", 7890, false),
		tcp("client-1", "app-1", 7890, false),
		ping("client-1", "app-1", true),
		ping("web-1", "app-1", true),
		tcp("client-1", "app-1", 80, false),
	)

	// calicoctl profile WEB tag add APP_7890
	if out := e.must("", "--dir", e.dir, "profile", "WEB", "tag", "add", "APP_7890"); strings.TrimSpace(out) != "Tag APP_7890 added to profile WEB" {
		t.Errorf("tag add printed %q", out)
	}
	e.apply()
	if out := e.must("", "--dir", e.dir, "profile", "WEB", "tag", "show"); out != "WEB\nAPP_7890\n" {
		t.Errorf("tag show printed %q, want WEB, APP_7890", out)
	}
	e.check(t, "WEB tagged APP_7890",
		tcp("web-1", "app-1", 7890, true), // across hosts: the tag spans them
		tcp("web-2", "app-1", 7890, true), // same host
		tcp6("web-1", "app-1", 7890, true),
		tcp("client-1", "app-1", 7890, false),
		tcp("web-1", "app-1", 22, false),
		ping("client-1", "app-1", true),
		tcp("client-1", "web-1", 443, true),
		tcp("client-1", "web-1", 22, false),
		tcp("app-1", "web-1", 443, true), // APP's outbound allows everything
		tcp("app-1", "client-1", 80, false),
	)
}
