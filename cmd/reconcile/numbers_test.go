package main

import (
	"strings"
	"testing"
)

// TestExplainNumbersArePlainDecimal: explain's numeric flags take plain decimal only (pflag's
// IntVar read --port 010 as 8), and say what to write.
func TestExplainNumbersArePlainDecimal(t *testing.T) {
	dir := writeRepo(t, simRepo(t))
	tcp := []string{"--from", "client-1", "--to", "web-1", "--protocol", "tcp"}
	icmp := []string{"--from", "198.18.9.9", "--to", "web-1", "--protocol", "icmp"}
	tests := []struct {
		name   string
		args   []string
		stderr string // "" for success
		probe  string // the probe line's end, on success
	}{
		{"the issue's --port 010", append(tcp, "--port", "010"), `invalid argument "010" for "--port" flag: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)`, ""},
		{"--port=010", append(tcp, "--port=010"), `invalid argument "010" for "--port" flag: 010 has a leading zero: write 10`, ""},
		{"--port 0x50", append(tcp, "--port", "0x50"), `invalid argument "0x50" for "--port" flag: 0x50 is hexadecimal: write 80 in decimal`, ""},
		{"--port 0o120", append(tcp, "--port", "0o120"), `"--port" flag: 0o120 is octal: write 80 in decimal`, ""},
		{"--port +80", append(tcp, "--port", "+80"), `"--port" flag: +80 has a '+' sign: write 80`, ""},
		{"--port 8_0", append(tcp, "--port", "8_0"), `"--port" flag: 8_0 has '_' in it: write 80`, ""},
		{"--port 80.0", append(tcp, "--port", "80.0"), `"--port" flag: 80.0 is not an integer: write 80`, ""},
		{"--port 65536", append(tcp, "--port", "65536"), `"--port" flag: 65536 is out of range (0-65535)`, ""},
		{"--src-port 050000", append(tcp, "--port", "80", "--src-port", "050000"), `"--src-port" flag: 050000 has a leading zero: write 50000`, ""},
		{"--icmp-type 010", append(icmp, "--icmp-type", "010"), `"--icmp-type" flag: 010 has a leading zero: write 10`, ""},
		{"--icmp-code 0x0", append(icmp, "--icmp-type", "3", "--icmp-code", "0x0"), `"--icmp-code" flag: 0x0 is hexadecimal: write 0 in decimal`, ""},
		{"--protocol 06", []string{"--from", "client-1", "--to", "web-1", "--protocol", "06", "--port", "80"}, "--protocol: 06 has a leading zero: write 6", ""},
		{"--protocol +6", []string{"--from", "client-1", "--to", "web-1", "--protocol", "+6", "--port", "80"}, "--protocol: +6 has a '+' sign: write 6", ""},
		{"--port 80", append(tcp, "--port", "80"), "", ": tcp/80"},
		{"--port 0 is no port", append(tcp, "--port", "0"), "protocol tcp needs a port (1-65535)", ""},
		{"--protocol 6", []string{"--from", "client-1", "--to", "web-1", "--protocol", "6", "--port", "443", "--src-port", "1"}, "", ": 6/443"},
		{"--icmp-type 0 --icmp-code 0", append(icmp, "--icmp-type", "0", "--icmp-code", "0"), "", ": icmp type 0 code 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(append([]string{"explain", "--dir", dir}, tc.args...)...)
			if tc.stderr != "" {
				if code != 1 || out != "" || !strings.Contains(errOut, tc.stderr) {
					t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and stderr containing %q", code, out, errOut, tc.stderr)
				}
				return
			}
			first, _, _ := strings.Cut(out, "\n")
			if code != 0 || !strings.HasSuffix(first, tc.probe) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 0 and a probe ending %q", code, out, errOut, tc.probe)
			}
		})
	}
}

// TestValidateAndTestRefuseNumberNotations: validate and test read the files through the one
// rule: positioned errors, exit 1, nothing traced.
func TestValidateAndTestRefuseNumberNotations(t *testing.T) {
	files := simRepo(t)
	files["profiles/WEB.yaml"] = "id: WEB\ntags: [WEB]\ninbound_rules:\n  - {action: allow, protocol: tcp, dst_ports: [010, 0755]}\n  - {action: allow, protocol: icmp, icmp_type: 010}\noutbound_rules:\n  - {action: allow}\n"
	files["tests/more.yaml"] = "tests:\n  - {from: client-1, to: web-1, protocol: tcp, port: 010, expect: allow}\n"
	dir := writeRepo(t, files)
	want := []string{
		"profiles/WEB.yaml:4:48: dst_ports: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)\n",
		"profiles/WEB.yaml:4:53: dst_ports: 0755 has a leading zero: write 755 (YAML 1.1 reads 0755 as octal 493)\n",
		"profiles/WEB.yaml:5:48: icmp_type: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)\n",
		"tests/more.yaml:2:54: port: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)\n",
	}
	for _, cmd := range []string{"validate", "test"} {
		out, errOut, code := runCLI(cmd, "--dir", dir)
		all := out + errOut
		if code != 1 || strings.Contains(all, "PASS") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and no test run", cmd, code, out, errOut)
		}
		for _, w := range want {
			if strings.Count(all, w) != 1 {
				t.Errorf("%s: output should hold %q once:\n%s", cmd, w, all)
			}
		}
	}
}
