package schema

import (
	"errors"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  string // the exact message; "" for success
		is   error
	}{
		{"0", 0, "", nil},
		{"80", 80, "", nil},
		{"65535", 65535, "", nil},
		{"-1", -1, "", nil},
		{"9223372036854775807", 1<<63 - 1, "", nil},
		{"010", 0, "010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)", ErrNotDecimal},
		{"0755", 0, "0755 has a leading zero: write 755 (YAML 1.1 reads 0755 as octal 493)", ErrNotDecimal},
		{"0080", 0, "0080 has a leading zero: write 80", ErrNotDecimal},
		{"00", 0, "00 has a leading zero: write 0", ErrNotDecimal},
		{"-010", 0, "-010 has a leading zero: write -10 (YAML 1.1 reads -010 as octal -8)", ErrNotDecimal},
		{"07_7", 0, "07_7 has a leading zero: write 77", ErrNotDecimal},
		{"0x50", 0, "0x50 is hexadecimal: write 80 in decimal", ErrNotDecimal},
		{"0X50", 0, "0X50 is hexadecimal: write 80 in decimal", ErrNotDecimal},
		{"+0x50", 0, "+0x50 is hexadecimal: write 80 in decimal", ErrNotDecimal},
		{"0o10", 0, "0o10 is octal: write 8 in decimal", ErrNotDecimal},
		{"0b1", 0, "0b1 is binary: write 1 in decimal", ErrNotDecimal},
		{"0xffffffffffffffffff", 0, "0xffffffffffffffffff is hexadecimal and out of range", ErrNotDecimal},
		{"1_000", 0, "1_000 has '_' in it: write 1000", ErrNotDecimal},
		{"+80", 0, "+80 has a '+' sign: write 80", ErrNotDecimal},
		{"80.0", 0, "80.0 is not an integer: write 80", ErrNotDecimal},
		{"0.", 0, "0. is not an integer: write 0", ErrNotDecimal},
		{"8e1", 0, "8e1 has an exponent: write 80", ErrNotDecimal},
		{"8E1", 0, "8E1 has an exponent: write 80", ErrNotDecimal},
		{"80.5", 0, "80.5 is not an integer", ErrNotDecimal},
		{".5", 0, ".5 is not an integer", ErrNotDecimal},
		{"1e-5", 0, "1e-5 has an exponent", ErrNotDecimal},
		{"99999999999999999999", 0, "99999999999999999999 is out of range", ErrNumberRange},
		{"", 0, `"" is not a number`, ErrNotNumber},
		{" 1", 0, `" 1" is not a number`, ErrNotNumber},
		{"1 ", 0, `"1 " is not a number`, ErrNotNumber},
		{"0x", 0, `"0x" is not a number`, ErrNotNumber},
		{"1.2.3", 0, `"1.2.3" is not a number`, ErrNotNumber},
		{"1-2", 0, `"1-2" is not a number`, ErrNotNumber},
		{"e5", 0, `"e5" is not a number`, ErrNotNumber},
		{"tcp", 0, `"tcp" is not a number`, ErrNotNumber},
		{"inf", 0, `"inf" is not a number`, ErrNotNumber},
		{"NaN", 0, `"NaN" is not a number`, ErrNotNumber},
		{"８０", 0, `"８０" is not a number`, ErrNotNumber}, // fullwidth digits
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseDecimal(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || err.Error() != tt.err):
			t.Errorf("ParseDecimal(%q) = %d, %v; want error %q", tt.in, got, err, tt.err)
		case tt.is != nil && !errors.Is(err, tt.is):
			t.Errorf("ParseDecimal(%q) error %v is not %v", tt.in, err, tt.is)
		}
		if tt.is != nil {
			for _, other := range []error{ErrNotDecimal, ErrNotNumber, ErrNumberRange} {
				if other != tt.is && errors.Is(err, other) {
					t.Errorf("ParseDecimal(%q) error %v is also %v", tt.in, err, other)
				}
			}
		}
	}
}

func TestDecimalIn(t *testing.T) {
	for _, tt := range []struct {
		in     string
		lo, hi int
		want   int
		err    string
	}{
		{"1", 1, 65535, 1, ""},
		{"65535", 1, 65535, 65535, ""},
		{"0", 1, 65535, 0, "0 is out of range (1-65535)"},
		{"-5", 1, 65535, 0, "-5 is out of range (1-65535)"},
		{"65536", 1, 65535, 0, "65536 is out of range (1-65535)"},
		{"99999999999999999999", 1, 65535, 0, "99999999999999999999 is out of range (1-65535)"},
		{"010", 1, 65535, 0, "010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)"},
		{"x", 1, 65535, 0, `"x" is not a number`},
	} {
		got, err := DecimalIn(tt.in, tt.lo, tt.hi)
		if tt.err == "" && (err != nil || got != tt.want) {
			t.Errorf("DecimalIn(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
		if tt.err != "" && (err == nil || err.Error() != tt.err) {
			t.Errorf("DecimalIn(%q) = %d, %v; want error %q", tt.in, got, err, tt.err)
		}
	}
}

// TestNumberNotationsInFiles: every numeric field of every kind of file, in YAML and JSON,
// refuses numbers that are not plain decimal, once, at their position, saying what to write.
func TestNumberNotationsInFiles(t *testing.T) {
	const rule = "id: WEB\ninbound_rules:\n  - action: allow\n"
	tests := []struct {
		name, path, data string
		want             string
	}{
		{"the issue's ports", "profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [010, 0755]\n",
			"profiles/WEB.yaml:5:17: dst_ports: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)\n" +
				"profiles/WEB.yaml:5:22: dst_ports: 0755 has a leading zero: write 755 (YAML 1.1 reads 0755 as octal 493)"},
		{"the issue's icmp_type", "profiles/WEB.yaml", rule + "    protocol: icmp\n    icmp_type: 010\n",
			"profiles/WEB.yaml:5:16: icmp_type: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)"},
		{"0080, which YAML reads as a float", "profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [0080]\n",
			"profiles/WEB.yaml:5:17: dst_ports: 0080 has a leading zero: write 80"},
		{"every other notation of a port", "profiles/WEB.yaml", rule + "    protocol: tcp\n    src_ports: [0x50, 0o10, 0b1, 1_000, +80, 80.0, 8e1]\n",
			"profiles/WEB.yaml:5:17: src_ports: 0x50 is hexadecimal: write 80 in decimal\n" +
				"profiles/WEB.yaml:5:23: src_ports: 0o10 is octal: write 8 in decimal\n" +
				"profiles/WEB.yaml:5:29: src_ports: 0b1 is binary: write 1 in decimal\n" +
				"profiles/WEB.yaml:5:34: src_ports: 1_000 has '_' in it: write 1000\n" +
				"profiles/WEB.yaml:5:41: src_ports: +80 has a '+' sign: write 80\n" +
				"profiles/WEB.yaml:5:46: src_ports: 80.0 is not an integer: write 80\n" +
				"profiles/WEB.yaml:5:52: src_ports: 8e1 has an exponent: write 80"},
		{"negated ports", "profiles/WEB.yaml", rule + "    protocol: udp\n    \"!src_ports\": [053]\n    \"!dst_ports\": [\"01:2\"]\n",
			"profiles/WEB.yaml:5:20: !src_ports: 053 has a leading zero: write 53 (YAML 1.1 reads 053 as octal 43)\n" +
				"profiles/WEB.yaml:6:20: !dst_ports: \"01:2\" is not a port range: 01 has a leading zero: write 1"},
		{"ranges", "profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [\"08:10\", 8000:08080, \"+1:2\"]\n",
			"profiles/WEB.yaml:5:17: dst_ports: \"08:10\" is not a port range: 08 has a leading zero: write 8\n" +
				"profiles/WEB.yaml:5:26: dst_ports: \"8000:08080\" is not a port range: 08080 has a leading zero: write 8080\n" +
				"profiles/WEB.yaml:5:38: dst_ports: \"+1:2\" is not a port range: +1 has a '+' sign: write 1"},
		{"icmp fields and negations", "profiles/WEB.yaml", rule + "    protocol: icmp\n    icmp_type: 3\n    icmp_code: 0x1\n    \"!icmp_type\": 3.0\n    \"!icmp_code\": +1\n",
			"profiles/WEB.yaml:6:16: icmp_code: 0x1 is hexadecimal: write 1 in decimal\n" +
				"profiles/WEB.yaml:7:19: !icmp_type: 3.0 is not an integer: write 3\n" +
				"profiles/WEB.yaml:8:19: !icmp_code: +1 has a '+' sign: write 1"},
		// A refused icmp_type is not missing: no "icmp_code: needs icmp_type" after it.
		{"refused icmp_type with a code", "profiles/WEB.yaml", rule + "    protocol: icmp\n    icmp_type: 010\n    icmp_code: 0\n  - action: deny\n    protocol: icmpv6\n    \"!icmp_type\": 0x1\n    \"!icmp_code\": 0\n",
			"profiles/WEB.yaml:5:16: icmp_type: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)\n" +
				"profiles/WEB.yaml:9:19: !icmp_type: 0x1 is hexadecimal: write 1 in decimal"},
		{"ip_version", "profiles/WEB.yaml", rule + "    ip_version: 04\n",
			"profiles/WEB.yaml:4:17: ip_version: 04 has a leading zero: write 4"},
		// The decoder's refusal is the one error: no "ports need protocol" after a refused protocol.
		{"protocols", "profiles/WEB.yaml", rule + "    protocol: \"06\"\n    dst_ports: [80]\n  - action: deny\n    protocol: 06\n    \"!protocol\": \"+17\"\n  - action: deny\n    protocol: 6.0\n    icmp_type: 8\n",
			"profiles/WEB.yaml:4:15: protocol: \"06\" has a leading zero: write 6\n" +
				"profiles/WEB.yaml:7:15: protocol: 06 has a leading zero: write 6\n" +
				"profiles/WEB.yaml:8:18: !protocol: \"+17\" has a '+' sign: write 17\n" +
				"profiles/WEB.yaml:10:15: protocol: 6.0 is not an integer: write 6"},
		{"a number for a list", "profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: 010\n",
			"profiles/WEB.yaml:5:16: dst_ports: 010 is a number; expected a list (write [10])"},
		{"huge", "profiles/WEB.yaml", rule + "    protocol: tcp\n    dst_ports: [99999999999999999999]\n    ip_version: 99999999999999999999\n",
			"profiles/WEB.yaml:5:17: dst_ports: 99999999999999999999 is not a port (0-65535)\n" +
				"profiles/WEB.yaml:6:17: ip_version: 99999999999999999999 is out of range (4 or 6)"},
		// In JSON these are syntax errors; the message says which number and what to write.
		{"json leading zero", "profiles/WEB.json", "{\"id\": \"WEB\", \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": \"tcp\",\n  \"dst_ports\": [80, 010]}]}",
			"profiles/WEB.json:2:21: dst_ports: 010 has a leading zero: write 10 (a syntax error in JSON)"},
		{"json icmp_type", "profiles/WEB.json", "{\"id\": \"WEB\", \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": \"icmp\",\n  \"icmp_type\": 010}]}",
			"profiles/WEB.json:2:16: icmp_type: 010 has a leading zero: write 10 (a syntax error in JSON)"},
		{"json hex", "profiles/WEB.json", "{\"id\": \"WEB\", \"inbound_rules\": [{\"action\": \"allow\", \"ip_version\": 0x4}]}",
			"profiles/WEB.json:1:67: ip_version: 0x4 is hexadecimal: write 4 in decimal (a syntax error in JSON)"},
		{"json plus", "profiles/WEB.json", "{\"id\": \"WEB\", \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": +6}]}",
			"profiles/WEB.json:1:65: protocol: +6 has a '+' sign: write 6 (a syntax error in JSON)"},
		{"json fraction and exponent", "profiles/WEB.json", "{\"id\": \"WEB\", \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": \"tcp\", \"dst_ports\": [80.0, 8e1]}]}",
			"profiles/WEB.json:1:86: dst_ports: 80.0 is not an integer: write 80\n" +
				"profiles/WEB.json:1:92: dst_ports: 8e1 has an exponent: write 80"},
		{"json range string", "profiles/WEB.json", "{\"id\": \"WEB\", \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": \"tcp\", \"dst_ports\": [\"08:10\"]}]}",
			"profiles/WEB.json:1:86: dst_ports: \"08:10\" is not a port range: 08 has a leading zero: write 8"},
		{"json protocol string", "profiles/WEB.json", "{\"id\": \"WEB\", \"inbound_rules\": [{\"action\": \"allow\", \"protocol\": \"06\"}]}",
			"profiles/WEB.json:1:65: protocol: \"06\" has a leading zero: write 6"},
		// tests/*.yaml: port, icmp_type, icmp_code, protocol; no second error for the same field.
		{"test port", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 010, expect: allow}\n",
			"tests/t.yaml:2:61: port: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)"},
		{"test icmp", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: icmp, icmp_type: 0x8, icmp_code: +0, expect: allow}\n",
			"tests/t.yaml:2:67: icmp_type: 0x8 is hexadecimal: write 8 in decimal\n" +
				"tests/t.yaml:2:83: icmp_code: +0 has a '+' sign: write 0"},
		{"test icmp_type refused, with a code", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: icmp, icmp_type: 08, icmp_code: 0, expect: allow}\n",
			"tests/t.yaml:2:67: icmp_type: 08 has a leading zero: write 8"},
		{"test protocol", "tests/t.yaml", "tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: \"06\", port: 80, expect: allow}\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: 017, port: 53, expect: allow}\n",
			"tests/t.yaml:2:50: protocol: \"06\" has a leading zero: write 6\n" +
				"tests/t.yaml:3:50: protocol: 017 has a leading zero: write 17 (YAML 1.1 reads 017 as octal 15)"},
		// Endpoints have no numeric field: a number where a string goes is refused as it is written.
		{"endpoint", "endpoints/e.yaml", "endpoints:\n  - {id: e, host: 010, interface: i}\n",
			"endpoints/e.yaml:2:19: host: 010 is a number; expected a string (quote it: \"010\")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := Load(map[string][]byte{tt.path: []byte(tt.data)})
			if got := errLines(errs); got != tt.want {
				t.Fatalf("errors:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestPlainDecimalsStillWork: the forms the rule keeps.
func TestPlainDecimalsStillWork(t *testing.T) {
	files := map[string][]byte{
		"profiles/WEB.yaml": []byte("id: WEB\ninbound_rules:\n" +
			"  - action: allow\n    protocol: tcp\n    dst_ports: [0, 80, 65535, \"8000:8080\", 9000:9090, \"0:1\"]\n" +
			"  - action: allow\n    protocol: 6\n    ip_version: 4\n    \"!src_ports\": [53]\n" +
			"  - action: allow\n    protocol: \"6\"\n    \"!protocol\": 17\n" +
			"  - action: allow\n    protocol: icmp\n    icmp_type: 0\n    icmp_code: 0\n    \"!icmp_type\": 254\n"),
		"profiles/APP.json": []byte(`{"id": "APP", "inbound_rules": [{"action": "allow", "protocol": "udp", "dst_ports": [0, 53, "8000:8080"], "ip_version": 6}]}`),
		"tests/t.yaml":      []byte("tests:\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: tcp, port: 65535, expect: allow}\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: \"6\", port: 1, expect: allow}\n  - {from: 198.18.0.1, to: 198.18.0.2, protocol: icmp, icmp_type: 0, icmp_code: 0, expect: allow}\n"),
	}
	repo, errs := Load(files)
	if errs != nil {
		t.Fatalf("Load: %v", errs)
	}
	web := repo.Profiles["WEB"].Inbound
	if got := FormatPorts(web[0].DstPorts); got != "0,80,65535,8000:8080,9000:9090,0:1" {
		t.Errorf("dst_ports = %s", got)
	}
	if web[1].Protocol != "6" || web[1].IPVersion != 4 || FormatPorts(web[1].NotSrcPorts) != "53" {
		t.Errorf("rule 2 = %+v", web[1])
	}
	if web[2].Protocol != "6" || web[2].NotProtocol != "17" {
		t.Errorf("rule 3 = %+v", web[2])
	}
	if r := web[3]; *r.ICMPType != 0 || *r.ICMPCode != 0 || *r.NotICMPType != 254 {
		t.Errorf("rule 4 = %+v", r)
	}
	if r := repo.Profiles["APP"].Inbound[0]; FormatPorts(r.DstPorts) != "0,53,8000:8080" || r.IPVersion != 6 {
		t.Errorf("APP rule = %+v", r)
	}
	if x := repo.Tests; x[0].Port != 65535 || x[1].Protocol != "6" || x[1].Port != 1 || *x[2].ICMPType != 0 {
		t.Errorf("tests = %+v %+v %+v", x[0], x[1], x[2])
	}
}

func TestProtocolNumberIsPlainDecimal(t *testing.T) {
	for _, tt := range []struct {
		p    Protocol
		want uint8
		ok   bool
	}{
		{"tcp", 6, true}, {"6", 6, true}, {"1", 1, true}, {"255", 255, true}, {"132", 132, true},
		{"06", 0, false}, {"+6", 0, false}, {"0x6", 0, false}, {"6.0", 0, false}, {"6_0", 0, false},
		{" 6", 0, false}, {"0", 0, false}, {"256", 0, false}, {"-6", 0, false}, {"TCP", 0, false}, {"", 0, false},
	} {
		if n, ok := tt.p.Number(); n != tt.want || ok != tt.ok {
			t.Errorf("Protocol(%q).Number() = %d, %v; want %d, %v", tt.p, n, ok, tt.want, tt.ok)
		}
	}
}
