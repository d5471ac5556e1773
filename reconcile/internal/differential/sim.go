package differential

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/reconcile-dev/reconcile/reconcile/compile"
	"github.com/reconcile-dev/reconcile/reconcile/internal/evaluate"
	"github.com/reconcile-dev/reconcile/reconcile/nft"
	"github.com/reconcile-dev/reconcile/reconcile/simulate"
	"github.com/reconcile-dev/reconcile/schema"
)

// Verdict is one party's answer on one packet, in a form the parties share.
type Verdict struct {
	// Allowed is true when every direction on the path accepted the packet.
	Allowed bool `json:"allowed"`
	// Steps are the directions the packet reached, in path order, each "<direction> <allow|
	// deny> by <rule>": direction outbound, inbound or to-host; rule the deciding profile
	// rule ("WEB inbound 2") or "-" when none did (anti-spoofing, no profile accepted, an
	// inactive endpoint, the host's allowances).
	Steps []string `json:"steps"`
	// Logged are the log prefixes of the log rules the packet matched on its path, in order
	// (compile.DefaultLogPrefix for a rule without log_prefix).
	Logged []string `json:"logged,omitempty"`
	// Err is the party's refusal of the packet ("" when it answered).
	Err string `json:"error,omitempty"`
}

// String renders the verdict on one line: `allow [outbound allow by WEB outbound 1; inbound allow by DB inbound 2]`.
func (v Verdict) String() string {
	if v.Err != "" {
		return "error: " + v.Err
	}
	s := "deny"
	if v.Allowed {
		s = "allow"
	}
	s = fmt.Sprintf("%s [%s]", s, strings.Join(v.Steps, "; "))
	if len(v.Logged) > 0 {
		s += " logged " + strings.Join(v.Logged, ",")
	}
	return s
}

func step(dir string, allowed bool, rule string) string {
	if rule == "" {
		rule = "-"
	}
	v := "deny"
	if allowed {
		v = "allow"
	}
	return dir + " " + v + " by " + rule
}

// Judge answers packets of one repository.
type Judge func(p evaluate.Packet) Verdict

// Party is one of the parties of the differential: Open prepares it for a repository (the
// simulator compiles the hosts' rulesets).
type Party struct {
	Name string
	Open func(repo *schema.Repository) (Judge, error)
}

// Simulator is the party of reconcile/simulate over the rulesets compile.Compile gives each
// host (as `reconcile explain` builds its simulate.Network).
var Simulator = Party{Name: "sim", Open: openSim}

func openSim(repo *schema.Repository) (Judge, error) {
	n := &simulate.Network{Repo: repo, Rulesets: map[string]*nft.Ruleset{}}
	n.Compile = func(host string) (*nft.Ruleset, error) {
		return compile.Compile(repo, compile.Options{Host: host})
	}
	return func(p evaluate.Packet) Verdict {
		ex, err := n.Explain(SimQuery(p))
		if err != nil {
			return Verdict{Err: err.Error()}
		}
		return simVerdict(&ex)
	}, nil
}

// SimQuery is the simulator's question for p: From the sender's id, or its source address
// when it is outside the model; To the receiver's destination address (which resolves to its
// endpoint), "host:<name>" for a host, or the outside address; the source address always
// given (it fixes the family; for an endpoint sender it is its own or a forged one).
func SimQuery(p evaluate.Packet) simulate.Query {
	q := simulate.Query{From: p.From, To: p.Dst.String(), Protocol: strconv.Itoa(int(p.Proto)), SrcMAC: p.SrcMAC}
	if p.From == "" {
		q.From = p.Src.String()
	} else {
		q.Src = p.Src
	}
	if p.ToHost != "" {
		q.To = "host:" + p.ToHost
	}
	switch p.Proto {
	case pTCP, pUDP, pSCTP, pUDPLite:
		q.Port, q.SrcPort = int(p.DstPort), int(p.SrcPort)
	case pICMP, pICMPv6:
		t, c := int(p.ICMPType), int(p.ICMPCode)
		q.ICMPType, q.ICMPCode = &t, &c
	}
	return q
}

// simVerdict reads an explanation as a Verdict: the directions reached, each with the
// profile rule its comment names.
func simVerdict(ex *simulate.Explanation) Verdict {
	v := Verdict{Allowed: ex.Allowed(), Steps: []string{}}
	for _, d := range []*simulate.Direction{ex.Outbound, ex.Inbound} {
		if d == nil || !d.Reached {
			continue
		}
		dir := d.Name
		if dir == "to host" {
			dir = "to-host"
		}
		rule := ""
		if ref, ok := compile.ParseComment(d.Comment); ok {
			rule = ref.String()
		}
		v.Steps = append(v.Steps, step(dir, d.Verdict == "allow", rule))
	}
	for _, d := range ex.Extra {
		v.Steps = append(v.Steps, step("other", d.Verdict == "allow", d.Decider()))
	}
	for _, l := range ex.Logged {
		v.Logged = append(v.Logged, strings.TrimSuffix(l, ": "))
	}
	return v
}

// Evaluator is the party of reconcile/internal/evaluate (SPEC §3 over the repository). A
// panic of Evaluate is the verdict's Err.
var Evaluator = Party{Name: "eval", Open: func(repo *schema.Repository) (Judge, error) {
	return func(p evaluate.Packet) (v Verdict) {
		defer func() {
			if r := recover(); r != nil {
				v = Verdict{Err: fmt.Sprintf("panic: %v", r)}
			}
		}()
		res, err := evaluate.Evaluate(repo, p)
		if err != nil {
			return Verdict{Err: err.Error()}
		}
		return evalVerdict(repo, res)
	}, nil
}}

// evalVerdict reads the evaluator's result as a Verdict; its logged rules ("WEB inbound 1")
// become their log prefixes ("?WEB inbound 1" for one that names no log rule).
func evalVerdict(repo *schema.Repository, res evaluate.Result) Verdict {
	v := Verdict{Allowed: res.Allowed, Steps: []string{}}
	for _, s := range res.Steps {
		rule := ""
		if s.Profile != "" {
			rule = fmt.Sprintf("%s %s %d", s.Profile, s.Direction, s.Rule)
		}
		v.Steps = append(v.Steps, step(s.Direction, s.Allowed, rule))
		for _, l := range s.Logged {
			v.Logged = append(v.Logged, logPrefix(repo, l))
		}
	}
	return v
}

// logPrefix is the log prefix of the log rule a reference names ("WEB inbound 1").
func logPrefix(repo *schema.Repository, ref string) string {
	r, ok := compile.ParseComment(ref)
	rule := r.Rule(repo)
	switch {
	case !ok || rule == nil || rule.Action != schema.ActionLog:
		return "?" + ref
	case rule.LogPrefix != "":
		return rule.LogPrefix
	}
	return compile.DefaultLogPrefix
}
