package differential

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/schema"
)

// Render writes repo as repository files (SPEC §2): profiles/<ID>.yaml per profile and
// endpoints/<host>.yaml per host, in YAML with every string double-quoted (so that no value
// is reinterpreted) and the negated keys quoted (a leading '!' is a YAML tag).
func Render(repo *schema.Repository) map[string][]byte {
	files := map[string][]byte{}
	for id, p := range repo.Profiles {
		files["profiles/"+id+".yaml"] = renderProfile(p)
	}
	byHost := map[string]*bytes.Buffer{}
	for _, e := range repo.Endpoints {
		b := byHost[e.Host]
		if b == nil {
			b = bytes.NewBufferString("endpoints:\n")
			byHost[e.Host] = b
		}
		renderEndpoint(b, e)
	}
	for h, b := range byHost {
		files["endpoints/"+h+".yaml"] = b.Bytes()
	}
	return files
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func renderProfile(p *schema.Profile) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "id: %q\ntags: %s\n", p.ID, quoteList(p.Tags))
	for _, d := range []struct {
		key   string
		rules []schema.Rule
	}{{"inbound_rules", p.Inbound}, {"outbound_rules", p.Outbound}} {
		if len(d.rules) == 0 {
			fmt.Fprintf(&b, "%s: []\n", d.key)
			continue
		}
		fmt.Fprintf(&b, "%s:\n", d.key)
		for _, r := range d.rules {
			renderRule(&b, r)
		}
	}
	return b.Bytes()
}

// renderRule writes one rule as a YAML list item; numeric protocols are written as integers.
func renderRule(b *bytes.Buffer, r schema.Rule) {
	fmt.Fprintf(b, "  - action: %q\n", r.Action)
	line := func(k, v string) { fmt.Fprintf(b, "    %q: %s\n", k, v) }
	proto := func(p schema.Protocol) string {
		if _, err := strconv.Atoi(string(p)); err == nil {
			return string(p)
		}
		return strconv.Quote(string(p))
	}
	ports := func(ps []schema.PortRange) string {
		q := make([]string, len(ps))
		for i, p := range ps {
			q[i] = p.String()
			if p.First != p.Last {
				q[i] = strconv.Quote(q[i])
			}
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	for _, f := range []struct {
		k string
		p schema.Protocol
	}{{"protocol", r.Protocol}, {"!protocol", r.NotProtocol}} {
		if f.p != "" {
			line(f.k, proto(f.p))
		}
	}
	for _, f := range []struct{ k, v string }{
		{"src_tag", r.SrcTag}, {"!src_tag", r.NotSrcTag}, {"src_net", r.SrcNet}, {"!src_net", r.NotSrcNet},
		{"dst_tag", r.DstTag}, {"!dst_tag", r.NotDstTag}, {"dst_net", r.DstNet}, {"!dst_net", r.NotDstNet},
		{"log_prefix", r.LogPrefix},
	} {
		if f.v != "" {
			line(f.k, strconv.Quote(f.v))
		}
	}
	for _, f := range []struct {
		k  string
		ps []schema.PortRange
	}{{"src_ports", r.SrcPorts}, {"!src_ports", r.NotSrcPorts}, {"dst_ports", r.DstPorts}, {"!dst_ports", r.NotDstPorts}} {
		if len(f.ps) > 0 {
			line(f.k, ports(f.ps))
		}
	}
	for _, f := range []struct {
		k string
		v *int
	}{{"icmp_type", r.ICMPType}, {"icmp_code", r.ICMPCode}, {"!icmp_type", r.NotICMPType}, {"!icmp_code", r.NotICMPCode}} {
		if f.v != nil {
			line(f.k, itoa(*f.v))
		}
	}
	if r.IPVersion != 0 {
		line("ip_version", itoa(r.IPVersion))
	}
}

func renderEndpoint(b *bytes.Buffer, e *schema.Endpoint) {
	fmt.Fprintf(b, "  - id: %q\n    host: %q\n    interface: %q\n", e.ID, e.Host, e.Interface)
	if e.MAC != "" {
		fmt.Fprintf(b, "    mac: %q\n", e.MAC)
	}
	fmt.Fprintf(b, "    ipv4_nets: %s\n    ipv6_nets: %s\n", quoteList(e.IPv4Nets), quoteList(e.IPv6Nets))
	fmt.Fprintf(b, "    profile_ids: %s\n", quoteList(e.ProfileIDs))
	if e.State != "" {
		fmt.Fprintf(b, "    state: %q\n", e.State)
	}
}
