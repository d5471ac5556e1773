package schema

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func errLines(errs Errors) string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return strings.Join(out, "\n")
}

func TestDecodeProfile(t *testing.T) {
	tests := []struct {
		name, path, data string
		want             string
	}{
		{"valid", "profiles/WEB.yaml", "id: WEB\ntags: [WEB]\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [80, \"8000:8080\"]\n", ""},
		{"stem", "profiles/APP.yaml", "id: WEB\n", `profiles/APP.yaml:1:5: id: "WEB" does not match the file name "APP" (a profile's id is its file name without extension)`},
		{"empty", "profiles/WEB.json", "", "profiles/WEB.json:1:1: empty file: expected a profile"},
		{"rule error", "profiles/WEB.json", `{"id": "WEB", "outbound_rules": [{"action": "allow", "icmp_type": 8}]}`, "profiles/WEB.json:1:67: icmp_type: needs protocol icmp or icmpv6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, errs := DecodeProfile(tt.path, []byte(tt.data))
			if got := errLines(errs); got != tt.want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
			if tt.want == "" {
				if p == nil || p.ID != "WEB" || p.Path != tt.path || len(p.Inbound) != 1 || p.Inbound[0].DstPorts[1] != (PortRange{8000, 8080}) {
					t.Errorf("profile = %+v", p)
				}
			}
		})
	}
}

func TestDecodeRules(t *testing.T) {
	// The seed's APP-rules.json verbatim, trailing spaces included (reconcile/internal/testenv
	// holds the seed's listings; schema may not import it and reads the file).
	seed, err := os.ReadFile(filepath.Join("..", "reconcile", "internal", "testenv", "testdata", "seed", "APP-rules.json"))
	if err != nil {
		t.Fatal(err)
	}
	id, hasID, in, out, errs := DecodeRules("APP-rules.json", seed)
	if errs != nil {
		t.Fatalf("seed rules: %v", errs)
	}
	if id != "APP" || !hasID || len(in) != 2 || len(out) != 1 {
		t.Fatalf("got id=%q hasID=%v in=%d out=%d", id, hasID, len(in), len(out))
	}
	if r := in[0]; r.Protocol != "tcp" || r.SrcTag != "APP_7890" || len(r.DstPorts) != 1 || r.DstPorts[0] != (PortRange{7890, 7890}) || r.Pos != (Pos{Line: 4, Col: 5}) {
		t.Errorf("rule 1 = %+v", r)
	}
	if r := in[1]; r.ICMPType == nil || *r.ICMPType != 8 {
		t.Errorf("rule 2 = %+v", r)
	}

	bad := []struct {
		name, data, want string
	}{
		{"no id is fine", `{"inbound_rules": [], "outbound_rules": []}`, ""},
		{"missing lists", `{"id": "APP"}`, "stdin:1:1: inbound_rules: missing (write [] for none)\nstdin:1:1: outbound_rules: missing (write [] for none)"},
		// A misspelt list is reported once, not also as missing.
		{"misspelt list", `{"inbound_rule": [], "Outbound_Rules": []}`, "stdin:1:2: unknown key \"inbound_rule\" in a rules object (did you mean \"inbound_rules\"?)\nstdin:1:22: unknown key \"Outbound_Rules\" in a rules object (did you mean \"outbound_rules\"?)"},
		{"unknown key", `{"inbound_rules": [], "outbound_rules": [], "tags": []}`, `stdin:1:45: unknown key "tags" in a rules object; known keys: id, inbound_rules, outbound_rules`},
		{"bad rule", "{\"inbound_rules\": [{\"action\": \"allow\", \"dst_ports\": [\"80\"]}],\n \"outbound_rules\": []}", `stdin:1:54: dst_ports: "80" is a string; write ports as integers or "a:b" ranges`},
		{"bad id", `{"id": "A B", "inbound_rules": [], "outbound_rules": []}`, `stdin:1:8: id: "A B" is not a valid id: use letters, digits, '.', '_' and '-'`},
		{"syntax", `{"inbound_rules": [}`, `stdin:1:20: syntax error: not valid JSON: invalid character '}' looking for beginning of value`},
		// The rules are JSON, as calicoctl's were: YAML would read 010 as 8.
		{"leading zero", `{"inbound_rules": [{"action": "allow", "protocol": "tcp", "dst_ports": [80, 010]}], "outbound_rules": []}`,
			`stdin:1:77: dst_ports: 010 has a leading zero: write 10 (a syntax error in JSON)`},
		{"yaml is not the rules JSON", "inbound_rules: []\noutbound_rules: []\n", `stdin:1:1: syntax error: not valid JSON: invalid character 'i' looking for beginning of value`},
		{"float port", `{"inbound_rules": [{"action": "allow", "protocol": "tcp", "dst_ports": [8e1]}], "outbound_rules": []}`,
			`stdin:1:73: dst_ports: 8e1 has an exponent: write 80`},
		{"icmp type with a plus", `{"inbound_rules": [{"action": "allow", "protocol": "icmp", "icmp_type": +8}], "outbound_rules": []}`,
			`stdin:1:73: icmp_type: +8 has a '+' sign: write 8 (a syntax error in JSON)`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, hasID, in, out, errs := DecodeRules("stdin", []byte(tt.data))
			if got := errLines(errs); got != tt.want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
			if in == nil || out == nil {
				t.Errorf("nil rule lists")
			}
			if tt.name == "no id is fine" && hasID {
				t.Errorf("hasID without an id")
			}
		})
	}
}

func TestValidateRule(t *testing.T) {
	eight, big := 8, 255
	tests := []struct {
		name  string
		rule  Rule
		where string
		want  string
	}{
		{"valid", Rule{Action: ActionAllow, Protocol: "tcp", DstPorts: []PortRange{{80, 80}, {8000, 8080}}}, "inbound_rules[1]", ""},
		{"valid icmp", Rule{Action: ActionAllow, Protocol: "icmp", ICMPType: &eight}, "", ""},
		{"no action", Rule{Protocol: "tcp"}, "inbound_rules[2]", "WEB.yaml: inbound_rules[2]: action is required: allow, deny or log"},
		{"reversed range", Rule{Action: ActionAllow, Protocol: "udp", SrcPorts: []PortRange{{90, 80}}}, "outbound_rules[1]", `WEB.yaml: outbound_rules[1]: src_ports: "90:80" is not a port range: 90 is not below 80`},
		{"ports without protocol", Rule{Action: ActionDeny, DstPorts: []PortRange{{22, 22}}}, "", "WEB.yaml: dst_ports: ports need protocol tcp, udp, sctp or udplite"},
		{"icmp 255 and version", Rule{Action: ActionAllow, Protocol: "icmp", ICMPType: &big, IPVersion: 6}, "", "WEB.yaml: icmp_type: 255 is not supported (0-254)\nWEB.yaml: ip_version: 6 does not match protocol \"icmp\" (IPv4)"},
		{"with position", Rule{Action: "permit", Pos: Pos{Line: 3, Col: 5}}, "inbound_rules[1]", `WEB.yaml:3:5: inbound_rules[1]: action: "permit" is not an action (allow, deny or log)`},
		{"cidr families", Rule{Action: ActionAllow, SrcNet: "198.18.0.0/15", DstNet: "fd00::/8"}, "", `WEB.yaml: dst_net: "fd00::/8" is IPv6 but src_net "198.18.0.0/15" is IPv4: the rule could never match`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateRule("WEB.yaml", tt.rule, tt.where)
			if got := errLines(errs); got != tt.want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
			if tt.want == "" && errs != nil {
				t.Errorf("non-nil Errors for a valid rule")
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	tests := []struct {
		in   string
		want PortRange
		err  string
	}{
		{"1:2", PortRange{1, 2}, ""},
		{"0:65535", PortRange{0, 65535}, ""},
		{"80", PortRange{}, `"80" is a string; write ports as integers or "a:b" ranges`},
		{"2:1", PortRange{}, `"2:1" is not a port range: 2 is not below 1`},
		{":1", PortRange{}, `":1" is not a port range: "" is not a number`},
		{"1:99999999", PortRange{}, `"1:99999999" is not a port range: 99999999 is not a port (0-65535)`},
		{"+1:2", PortRange{}, `"+1:2" is not a port range: +1 has a '+' sign: write 1`},
	}
	for _, tt := range tests {
		got, err := ParsePortRange(tt.in)
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("ParsePortRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || err.Error() != tt.err) {
			t.Errorf("ParsePortRange(%q) error = %v; want %q", tt.in, err, tt.err)
		}
	}
}

func TestLongValuesAreClipped(t *testing.T) {
	long := strings.Repeat("A", 1<<20)
	_, errs := Load(map[string][]byte{"profiles/WEB.yaml": []byte("id: " + long + "\n")})
	if len(errs) != 1 {
		t.Fatalf("errors: %v", errs)
	}
	msg := errs[0].Msg
	// The id check quotes only the first limits.MaxIDLen bytes; any message stays bounded.
	if !strings.HasPrefix(msg, `id: "AAAA`) || !strings.Contains(msg, "is 1048576 bytes") || len(msg) > maxMsg+len("…") {
		t.Errorf("message not clipped: %d bytes, %q...", len(msg), msg[:min(len(msg), 40)])
	}
}

// TestAliasBudget: a small file whose aliases expand to a huge tree is refused, not walked.
func TestAliasBudget(t *testing.T) {
	ports := "[" + strings.Repeat("1,", 100000) + "1]"
	data := "id: WEB\ninbound_rules:\n  - &r {action: allow, protocol: tcp, dst_ports: " + ports + "}\n" + strings.Repeat("  - *r\n", 100)
	_, errs := Load(map[string][]byte{"profiles/WEB.yaml": []byte(data)})
	want := fmt.Sprintf("the file expands to more than %d values (too many aliases)", maxNodes+len(data))
	if len(errs) != 1 || errs[0].Msg != want || errs[0].Line < 3 {
		t.Errorf("errors = %v, want one %q", errs, want)
	}
}

func TestMergeKeys(t *testing.T) {
	data := "id: WEB\ninbound_rules:\n  - &tcp {action: allow, protocol: tcp, dst_ports: [80]}\n  - <<: *tcp\n    dst_ports: [443]\n  - <<: [{action: deny, icmp_type: 8}, *tcp]\n    protocol: icmp\n    dst_ports: ~\n"
	p, errs := DecodeProfile("profiles/WEB.yaml", []byte(data))
	if errs != nil {
		t.Fatal(errs)
	}
	in := p.Inbound
	if len(in) != 3 {
		t.Fatalf("%d rules", len(in))
	}
	if r := in[1]; r.Action != "allow" || r.Protocol != "tcp" || len(r.DstPorts) != 1 || r.DstPorts[0].First != 443 {
		t.Errorf("rule 2 = %+v", r)
	}
	// Keys written in the mapping win; the first merged mapping wins over the second; null is absent.
	if r := in[2]; r.Action != "deny" || r.Protocol != "icmp" || r.ICMPType == nil || *r.ICMPType != 8 || r.DstPorts != nil {
		t.Errorf("rule 3 = %+v", r)
	}
}

// TestBigFileWithoutAliases: the node budget never refuses a big file that has no aliases.
func TestBigFileWithoutAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("id: WEB\ninbound_rules:\n  - action: allow\n    protocol: tcp\n    dst_ports: [")
	for i := 0; i < maxNodes+10; i++ {
		b.WriteString("1,")
	}
	b.WriteString("2]\n")
	if _, errs := Load(map[string][]byte{"profiles/WEB.yaml": []byte(b.String())}); errs != nil {
		t.Fatal(errs[0])
	}
}
