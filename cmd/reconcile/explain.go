package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reconcile-dev/reconcile/reconcile"
	"github.com/reconcile-dev/reconcile/schema"
)

func newExplainCmd(g *globals) *cobra.Command {
	var (
		q                  reconcile.Query
		icmpType, icmpCode int
	)
	cmd := &cobra.Command{
		Use:   "explain --from EP|IP --to EP|IP --protocol P [--port N]",
		Short: "Say whether a flow is allowed, and which rule decided, per direction",
		Long: `Trace the first packet of a flow through the compiled rulesets of the hosts it crosses and
print, per direction, the verdict and the rule that decided it: outbound at the sender's host,
inbound at the receiver's. --from and --to are endpoint ids or IP addresses (an address inside
an endpoint's nets is that endpoint; any other address is outside the model); --to host:NAME is
the host itself (traffic from one of its endpoints to it, the input hook). The source address is
the sender's first address of the probe's family (IPv4 when both ends have one), the source port
is 50000 unless --src-port says otherwise, and an icmp probe is an echo request unless --icmp-type
says otherwise. Nothing is changed. Exit 0 whatever the verdict; 1 on an error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("icmp-type") {
				q.ICMPType = &icmpType
			}
			if cmd.Flags().Changed("icmp-code") {
				q.ICMPCode = &icmpCode
			}
			return runExplain(cmd.Context(), g, q)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.From, "from", "", "sender: endpoint id or IP address (required)")
	f.StringVar(&q.To, "to", "", "receiver: endpoint id, IP address, or host:NAME (required)")
	f.StringVar(&q.Protocol, "protocol", "", "tcp, udp, icmp, icmpv6, sctp, udplite or a number 1-255 (required)")
	// Numbers are plain decimal: pflag's IntVar would read --port 010 as 8.
	decimalVar(f, &q.Port, "port", 0, 65535, "destination port (required with tcp, udp, sctp, udplite)")
	decimalVar(f, &q.SrcPort, "src-port", 0, 65535, fmt.Sprintf("source port (default %d)", reconcile.DefaultSrcPort))
	decimalVar(f, &icmpType, "icmp-type", 0, 255, "icmp type (default: echo request, 8 or 128)")
	decimalVar(f, &icmpCode, "icmp-code", 0, 255, "icmp code (default 0; needs --icmp-type)")
	return cmd
}

// explainOut is the JSON output of explain.
type explainOut struct {
	Source   string `json:"source"`
	Revision string `json:"revision"`
	*reconcile.Explanation
}

func runExplain(ctx context.Context, g *globals, q reconcile.Query) error {
	if err := g.checkOutput(); err != nil {
		return err
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--from", q.From}, {"--to", q.To}, {"--protocol", q.Protocol}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("explain needs %s", strings.Join(missing, ", "))
	}
	if err := checkProtocolFlag("--protocol", q.Protocol); err != nil {
		return err
	}
	a, err := g.agent(false)
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := a.Explain(ctx, q)
	if err != nil {
		return g.modelFailed(err, res.Snapshot)
	}
	snap, ex := res.Snapshot, res.Explanation
	if g.output == "json" {
		return writeJSON(g.stdout, explainOut{Source: snap.Source, Revision: snap.Revision, Explanation: &ex})
	}
	var b strings.Builder
	b.WriteString(ex.Header() + "\n")
	for _, l := range ex.Lines() {
		b.WriteString(l + "\n")
	}
	if len(ex.Logged) > 0 {
		fmt.Fprintf(&b, "  logged: %s\n", strings.Join(quoteAll(ex.Logged), ", "))
	}
	verdict := "denied"
	if ex.Allowed() {
		verdict = "allowed"
	}
	fmt.Fprintf(&b, "Verdict: %s\n", verdict)
	_, err = fmt.Fprint(g.stdout, b.String())
	return err
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// modelFailed reports an error of explain or test: an invalid repository prints its errors to
// stderr and ends the command with exit 1; another error is returned.
func (g *globals) modelFailed(err error, snap *reconcile.Snapshot) error {
	var errs schema.Errors
	if !errors.As(err, &errs) || snap == nil {
		return err
	}
	for _, e := range errs {
		fmt.Fprintln(g.stderr, e.Error())
	}
	fmt.Fprintf(g.stderr, "reconcile: the repository at %s is invalid (%s)\n", snap.Revision, countNoun(len(errs), "error"))
	return exitCode(1)
}
