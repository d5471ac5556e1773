package compile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/reconcile-dev/reconcile/reconcile/internal/testenv"
	"github.com/reconcile-dev/reconcile/reconcile/limits"
	"github.com/reconcile-dev/reconcile/reconcile/netns"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/schema"
)

// maxTable is a non-default table name, as `--table` would give it.
const maxTable = "max-table.v1"

// maxID returns a distinct id of exactly limits.MaxIDLen bytes.
func maxID(letter string, i int) string {
	suffix := fmt.Sprintf("-%03d", i)
	return strings.Repeat(letter, limits.MaxIDLen-len(suffix)) + suffix
}

// maxIfname returns a distinct interface name of exactly limits.MaxIfname bytes.
func maxIfname(i int) string { return fmt.Sprintf("cali.x_%0*d", limits.MaxIfname-7, i) }

// maximalFiles is a repository whose every id, tag, interface name and log prefix is as long
// as validation allows, with many rules (indices in the tens) of every kind, and endpoints in
// every state that gives its chains different comments: MAC checked, IPv4 only, IPv6 only,
// inactive, without profiles; plus endpoints on another host that fill the tag sets.
func maximalFiles() map[string][]byte {
	const profiles, rulesPer, local, remote = 6, 40, 12, 4
	files := map[string][]byte{}
	logPrefix := strings.Repeat("L", limits.MaxLogPrefix-4) + ":x-_"
	for p := 0; p < profiles; p++ {
		id := maxID("P", p)
		tags := []string{maxID("T", p), maxID("T", (p+1)%profiles)}
		var b strings.Builder
		fmt.Fprintf(&b, "id: %s\ntags: [%s]\n", id, strings.Join(tags, ", "))
		for _, dir := range []string{"inbound_rules", "outbound_rules"} {
			fmt.Fprintf(&b, "%s:\n", dir)
			fmt.Fprintf(&b, "  - {action: log, log_prefix: %q}\n", logPrefix)
			for r := 1; r < rulesPer; r++ {
				other := maxID("T", (p+r)%profiles)
				switch r % 16 {
				case 0:
					fmt.Fprintf(&b, "  - {action: allow, protocol: tcp, src_tag: %s, dst_ports: [80, 443, \"8000:8080\"]}\n", other)
				case 1:
					fmt.Fprintf(&b, "  - {action: deny, protocol: udp, \"!dst_tag\": %s, \"!src_ports\": [53]}\n", other)
				case 2:
					fmt.Fprintf(&b, "  - {action: allow, protocol: icmp, icmp_type: 8, icmp_code: 0, src_net: 198.19.%d.0/24}\n", r)
				case 3:
					fmt.Fprintf(&b, "  - {action: allow, protocol: icmpv6, icmp_type: 128, dst_tag: %s}\n", other)
				case 4:
					fmt.Fprintf(&b, "  - {action: log, \"!protocol\": tcp, \"!src_tag\": %s}\n", other)
				case 5:
					fmt.Fprintf(&b, "  - {action: deny, ip_version: 6, src_net: \"fd00:%x::/64\"}\n", r)
				case 6:
					fmt.Fprintf(&b, "  - {action: allow, protocol: sctp, \"!dst_ports\": [\"1:1023\"], dst_tag: %s}\n", other)
				case 7:
					fmt.Fprintf(&b, "  - {action: allow, protocol: udp, src_ports: [68], dst_ports: [67], \"!src_net\": 198.19.%d.0/24}\n", r)
				case 8:
					fmt.Fprintf(&b, "  - {action: deny, protocol: icmp, \"!icmp_type\": 3, \"!icmp_code\": 1}\n")
				case 9:
					fmt.Fprintf(&b, "  - {action: allow, protocol: icmpv6, icmp_type: 1, icmp_code: 4, \"!dst_net\": \"fd00:%x::/64\"}\n", r)
				case 10:
					fmt.Fprintf(&b, "  - {action: deny, ip_version: 4, \"!protocol\": udp}\n")
				case 11:
					fmt.Fprintf(&b, "  - {action: allow, protocol: tcp, \"!protocol\": udp, src_tag: %s, \"!dst_ports\": [22, \"6000:6063\"]}\n", other)
				case 12:
					fmt.Fprintf(&b, "  - {action: allow, protocol: icmp, \"!icmp_type\": 8}\n")
				case 13:
					fmt.Fprintf(&b, "  - {action: log, log_prefix: %q, protocol: udplite, src_tag: %s, dst_tag: %s}\n", logPrefix, other, maxID("T", p))
				default:
					fmt.Fprintf(&b, "  - {action: allow, protocol: %d}\n", 100+r)
				}
			}
		}
		files["profiles/"+id+".yaml"] = []byte(b.String())
	}
	var b strings.Builder
	b.WriteString("endpoints:\n")
	for i := 0; i < local+remote; i++ {
		host := "node-1"
		if i >= local {
			host = "node-2"
		}
		fmt.Fprintf(&b, "  - id: %s\n    host: %s\n    interface: %s\n", maxID("e", i), host, maxIfname(i))
		v4, v6 := fmt.Sprintf("198.18.%d.2/32", i), fmt.Sprintf("\"fd00::%x:2/128\"", i)
		profiles := fmt.Sprintf("[%s, %s]", maxID("P", i%profiles), maxID("P", (i+1)%profiles))
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, "    mac: \"ee:ee:ee:00:00:%02x\"\n    ipv4_nets: [%s]\n    ipv6_nets: [%s]\n", i, v4, v6)
		case 1:
			fmt.Fprintf(&b, "    ipv4_nets: [%s]\n", v4)
		case 2:
			fmt.Fprintf(&b, "    ipv6_nets: [%s]\n", v6)
		case 3:
			fmt.Fprintf(&b, "    ipv4_nets: [%s]\n    ipv6_nets: [%s]\n    state: inactive\n", v4, v6)
		case 4:
			fmt.Fprintf(&b, "    ipv4_nets: [%s]\n", v4)
			profiles = "[]"
		default:
			fmt.Fprintf(&b, "    mac: \"ee:ee:ee:00:00:%02x\"\n    ipv4_nets: [%s]\n", i, v4)
		}
		fmt.Fprintf(&b, "    profile_ids: %s\n", profiles)
	}
	files["endpoints/all.yaml"] = []byte(b.String())
	return files
}

// compileMaximal validates and compiles the maximal repository for node-1.
func compileMaximal(t *testing.T) (*schema.Repository, *nft.Ruleset) {
	t.Helper()
	repo, errs := schema.Load(maximalFiles())
	if errs != nil {
		t.Fatalf("the maximal repository does not validate:\n%v", errs)
	}
	rs, err := Compile(repo, Options{Host: "node-1", Table: maxTable})
	if err != nil {
		t.Fatal(err)
	}
	return repo, rs
}

// TestLongestComment computes the longest comment (and name) the compiler produces when every
// id and tag has the most bytes validation allows, over every kind of chain and rule, and
// checks it against nft's limit: nothing needs cutting, and nothing is cut.
func TestLongestComment(t *testing.T) {
	repo, rs := compileMaximal(t)
	longest, longestName := "", ""
	var comments []string
	for _, s := range rs.Sets {
		comments = append(comments, s.Comment)
		if len(s.Name) > len(longestName) {
			longestName = s.Name
		}
	}
	for _, c := range rs.Chains {
		if len(c.Name) > len(longestName) {
			longestName = c.Name
		}
		for _, r := range c.Rules {
			comments = append(comments, r.Comment)
		}
	}
	for _, c := range comments {
		if len(c) > len(longest) {
			longest = c
		}
	}
	t.Logf("longest comment, %d bytes: %q", len(longest), longest)
	t.Logf("longest name, %d bytes: %q", len(longestName), longestName)
	if len(longest) > limits.MaxComment {
		t.Errorf("a comment of %d bytes exceeds nft's %d: %q", len(longest), limits.MaxComment, longest)
	}
	if len(longest) <= limits.MaxIDLen {
		t.Errorf("the longest comment (%q) does not hold a whole id: the repository is not maximal", longest)
	}
	if len(longestName) > MaxNameLen || len(longestName) > limits.MaxName {
		t.Errorf("name %q is over %d bytes", longestName, MaxNameLen)
	}
	if err := rs.CheckText(); err != nil {
		t.Error(err)
	}
	if err := nft.ValidateFake(rs); err != nil {
		t.Errorf("the fake refuses the maximal ruleset: %v", err)
	}
	// Comments hold the whole ids: every endpoint chain's comments name its endpoint, every
	// profile rule's comment maps back through Sources.
	sources := Sources(repo)
	kinds := map[string]int{}
	for _, c := range rs.Chains {
		kind, id := Describe(c.Name)
		for _, r := range c.Rules {
			if r.Comment == "" {
				continue
			}
			switch kind {
			case KindFrom, KindTo, KindHost:
				if !strings.Contains(r.Comment, " "+id+": ") {
					t.Errorf("chain %s: comment %q does not name %q whole", c.Name, r.Comment, id)
				}
				kinds[strings.SplitN(r.Comment, ": ", 2)[1]]++
			case KindProfileIn, KindProfileOut:
				if ref, ok := sources[r.Comment]; !ok || ref.Profile != id {
					t.Errorf("chain %s: comment %q does not lead back to profile %q", c.Name, r.Comment, id)
				}
			}
		}
	}
	for _, why := range []string{"endpoint inactive", "endpoint has no profiles", "no profile accepted", "source mac not the endpoint's", "no ipv4 nets", "no ipv6 nets"} {
		if kinds[why] == 0 {
			t.Errorf("no endpoint comment %q: the repository does not cover it (%v)", why, kinds)
		}
	}
}

// TestMaximalRulesetLoadsAndRestores: with every value at its limit, the text `plan --nft`
// prints (Script) loads with `nft -f`; the same model applied by the kernel dataplane, dumped
// with `nft list ruleset` (an operator's backup), deleted and restored from the dump with
// `nft -f`, reads back (Observe) as the same model.
func TestMaximalRulesetLoadsAndRestores(t *testing.T) {
	testenv.RequireKernel(t)
	ctx := context.Background()
	_, rs := compileMaximal(t)
	want := rs.Canonical()

	// The script, in a namespace of its own.
	nsText := testenv.NewNetns(t, "maxtext")
	script := filepath.Join(t.TempDir(), "plan.nft")
	if err := os.WriteFile(script, []byte(rs.Script()), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, nsText, "nft", "-c", "-f", script)
	testenv.NetnsRun(t, nsText, "nft", "-f", script)
	kText, err := nft.NewKernel(testenv.Open(t, netns.Open, nsText))
	if err != nil {
		t.Fatal(err)
	}
	defer kText.Close()
	if got, err := kText.Observe(ctx, maxTable); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("the table nft -f made of Script() is not the model: %v\n%s", err, diffText(got, want))
	}

	// The kernel dataplane, a dump, and a restore.
	ns := testenv.NewNetns(t, "maxkern")
	k, err := nft.NewKernel(testenv.Open(t, netns.Open, ns))
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if err := k.Apply(ctx, rs); err != nil {
		t.Fatal(err)
	}
	applied, err := k.Observe(ctx, maxTable)
	if err != nil || !reflect.DeepEqual(applied, want) {
		t.Fatalf("Observe after Apply is not the model: %v\n%s", err, diffText(applied, want))
	}
	dump := filepath.Join(t.TempDir(), "ruleset.nft")
	if err := os.WriteFile(dump, []byte(testenv.NetnsRun(t, ns, "nft", "list", "ruleset")), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.NetnsRun(t, ns, "nft", "delete", "table", "inet", maxTable)
	if got, err := k.Observe(ctx, maxTable); err != nil || got != nil {
		t.Fatalf("the table is still there after delete: %v", err)
	}
	testenv.NetnsRun(t, ns, "nft", "-f", dump)
	restored, err := k.Observe(ctx, maxTable)
	if err != nil || !reflect.DeepEqual(restored, want) {
		t.Fatalf("the table restored from `nft list ruleset` is not the model: %v\n%s", err, diffText(restored, want))
	}
}

// diffText shows the first differing line of two rulesets' texts.
func diffText(got, want *nft.Ruleset) string {
	if got == nil {
		return "got no table"
	}
	g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
	for i := range min(len(g), len(w)) {
		if g[i] != w[i] {
			return fmt.Sprintf("line %d:\ngot:  %s\nwant: %s", i+1, g[i], w[i])
		}
	}
	return fmt.Sprintf("got %d lines, want %d", len(g), len(w))
}
