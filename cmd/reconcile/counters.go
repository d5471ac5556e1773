package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/reconcile-dev/reconcile/reconcile"
)

// countersHelp is the part of status's help about --counters.
const countersHelp = `
With --counters: the hit counters of every profile rule on this host (its profile chains:
the rules of the profiles of the local active endpoints), packets and bytes summed over its
IPv4 and IPv6 nft rules and over the endpoints using the profile, with the rule's rule show
text from the source's current revision; sorted by packets (most first), then profile,
direction (inbound first) and rule number. A rule that never matched says since when its
counter counts ("never matched since 2026-11-30 18:02 UTC": the apply that installed it;
"since at least": it existed then already; "since: unknown" when no install time is recorded
for the ruleset the kernel holds). Then the drops by reason (anti-spoofing, no profile
accepted, inactive endpoint, endpoint to host), summed over the local endpoints. Rules that fit
no IP family have no nft rule and are not listed. Bytes are the IP header and payload.
-o json gives the same (docs/OPERATIONS.md, Rule counters).`

func runCounters(ctx context.Context, g *globals, full bool) error {
	return g.withAgent(ctx, func(ctx context.Context, a *reconcile.Agent) error {
		res, err := a.Counters(ctx)
		if err != nil {
			return g.passFailed(err, false)
		}
		if g.output == "json" {
			return writeJSON(g.stdout, countersJSON(g, res))
		}
		return writeCountersText(g.stdout, g, res)
	}, fullRead(full))
}

// countersOut is the JSON of status --counters (see docs/OPERATIONS.md, Rule counters).
type countersOut struct {
	Table           string               `json:"table"`
	Netns           string               `json:"netns,omitempty"`
	Host            string               `json:"host"`
	Time            time.Time            `json:"time"`
	AppliedRevision string               `json:"applied_revision,omitempty"`
	TextRevision    string               `json:"text_revision,omitempty"`
	TextError       string               `json:"text_error,omitempty"`
	SinceError      string               `json:"since_error,omitempty"`
	Rules           []reconcile.RuleHits `json:"rules"`
	Drops           []reconcile.DropHits `json:"drops"`
}

func countersJSON(g *globals, res *reconcile.CountersResult) countersOut {
	out := countersOut{Table: res.Table, Netns: g.netns, Host: res.Host, Time: res.Time,
		AppliedRevision: res.AppliedRevision, TextRevision: res.TextRevision, TextError: res.TextError,
		SinceError: res.SinceError, Rules: res.Rules, Drops: res.Drops}
	if out.Rules == nil {
		out.Rules = []reconcile.RuleHits{}
	}
	return out
}

// dropTitles are the drop reasons as the text output names them.
var dropTitles = map[string]string{
	reconcile.DropAntiSpoofing:      "anti-spoofing",
	reconcile.DropNoProfileAccepted: "no profile accepted",
	reconcile.DropInactiveEndpoint:  "inactive endpoint",
	reconcile.DropEndpointToHost:    "endpoint to host",
}

func writeCountersText(w io.Writer, g *globals, res *reconcile.CountersResult) error {
	var b strings.Builder
	where := "table inet " + res.Table
	if g.netns != "" {
		where += " in netns " + g.netns
	}
	fmt.Fprintf(&b, "Rule counters of %s, host %s, read at %s.\n", where, res.Host, utcMinute(res.Time, true))
	switch {
	case res.TextError != "":
		fmt.Fprintf(&b, "Rule texts: unknown (%s).\n", res.TextError)
	case res.AppliedRevision != "" && res.TextRevision != res.AppliedRevision:
		fmt.Fprintf(&b, "Rule texts: from %s, not the applied %s (they may differ from the kernel's rules).\n", res.TextRevision, res.AppliedRevision)
	}
	if res.SinceError != "" {
		fmt.Fprintf(&b, "Since when the counters count: unknown (%s).\n", res.SinceError)
	}
	b.WriteString("\n")
	if len(res.Rules) == 0 {
		b.WriteString("No profile rules in the table (no local active endpoint uses a profile with rules).\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PROFILE\tDIRECTION\tRULE\tPACKETS\tBYTES\tRULE SHOW")
		for _, h := range res.Rules {
			text := h.Text
			switch {
			case text == "" && res.TextError != "":
				text = "(unknown)" // the line above the table says why
			case text == "":
				text = "(not in " + orUnknown(res.TextRevision) + ")"
			}
			if h.Packets == 0 {
				text += "   " + neverMatched(h)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", h.Profile, h.Direction, h.Rule, thousands(h.Packets), humanBytes(h.Bytes), text)
		}
		tw.Flush()
	}
	b.WriteString("\nDrops by reason (summed over the local endpoints):\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REASON\tPACKETS\tBYTES")
	for _, d := range res.Drops {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", dropTitles[d.Reason], thousands(d.Packets), humanBytes(d.Bytes))
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "the repository"
	}
	return s
}

// neverMatched says since when a rule with no packets has not matched.
func neverMatched(h reconcile.RuleHits) string {
	switch {
	case h.Since == nil:
		return "never matched (since: unknown)"
	case h.SinceAtLeast:
		return "never matched since at least " + utcMinute(*h.Since, false)
	}
	return "never matched since " + utcMinute(*h.Since, false)
}

// utcMinute is t as "2026-11-30 18:02 UTC" (with seconds: "2026-11-30 18:02:07 UTC").
func utcMinute(t time.Time, seconds bool) string {
	if seconds {
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// thousands writes n with a comma every three digits: 1,234,567.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// humanBytes is n in B, KB, MB, GB or TB (powers of 1000), one decimal below 10 units.
func humanBytes(n uint64) string {
	if n < 1000 {
		return strconv.FormatUint(n, 10) + " B"
	}
	v := float64(n)
	for _, u := range []string{"KB", "MB", "GB", "TB", "PB"} {
		v /= 1000
		// Decided on the rounded figure: 9,960 B is "10 KB", not "10.0 KB"; 999,600 B is
		// "1.0 MB", not "1000 KB".
		switch {
		case v < 9.95:
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + u
		case v < 999.5 || u == "PB":
			return strconv.FormatFloat(v, 'f', 0, 64) + " " + u
		}
	}
	return ""
}
