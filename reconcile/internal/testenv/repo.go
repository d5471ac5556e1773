package testenv

// WorkedExample returns a new copy of a small repository (path -> content) in the shape of
// the seed's worked example: WEB (YAML, tags WEB and APP_7890) and APP (JSON) profiles,
// endpoints web-1 and app-1 on node-1 and web-2 on node-2.
func WorkedExample() map[string]string {
	return map[string]string{
		"profiles/WEB.yaml": `id: WEB
tags: [WEB, APP_7890]
inbound_rules:
  - action: allow
    protocol: tcp
    dst_ports: [80, 443]
  - action: allow
    protocol: icmp
    icmp_type: 8
outbound_rules:
  - action: allow
`,
		"profiles/APP.json": `{
  "id": "APP",
  "tags": ["APP"],
  "inbound_rules": [
    {"action": "allow", "protocol": "tcp", "dst_ports": [7890], "src_tag": "APP_7890"},
    {"action": "allow", "protocol": "icmp", "icmp_type": 8}
  ],
  "outbound_rules": [{"action": "allow"}]
}
`,
		"endpoints/lab.yaml": `endpoints:
  - id: web-1
    host: node-1
    interface: caliweb1
    ipv4_nets: [198.18.1.2/32]
    ipv6_nets: ["fd00:1::2/128"]
    profile_ids: [WEB]
  - id: app-1
    host: node-1
    interface: caliapp1
    ipv4_nets: [198.18.2.2/32]
    profile_ids: [APP]
  - id: web-2
    host: node-2
    interface: caliweb2
    ipv4_nets: [198.18.1.3/32]
    profile_ids: [WEB]
`,
	}
}

// SeedAPPRules is the seed's APP-rules.json verbatim (`calicoctl profile APP rule json`
// output, trailing spaces included).
const SeedAPPRules = `{
  "id": "APP", 
  "inbound_rules": [
    {
      "action": "allow",
      "protocol": "tcp", 
      "dst_ports": [7890],
      "src_tag": "APP_7890"
    }, 
    {
      "action": "allow", 
      "protocol": "icmp",
      "icmp_type": 8
    }
  ], 
  "outbound_rules": [
    {
      "action": "allow"
    }
  ]
}
`
