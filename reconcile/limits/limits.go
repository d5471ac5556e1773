// Package limits holds, in one place, the bounds that the kernel's nf_tables and the nft tool
// put on the names and strings reconcile sends them, and the policy bounds derived from them.
// Schema validation, the compiler, the kernel encoder, the fake dataplane and the nft text
// renderer all use these constants and checks, so that what validates is what the kernel and
// `nft -f` accept with the same meaning: the text `plan --nft` prints loads, and a dump of the
// host's ruleset (`nft list ruleset > f; nft -f f`) restores. It imports nothing but the
// standard library.
//
// The numbers were checked against Linux 6.x and nft 1.0.6 in a private network namespace
// (see limits_test.go and the kernel tests of reconcile/compile).
package limits

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

const (
	// MaxIDLen is the longest profile id, endpoint id and tag, in bytes (SPEC §2; reconcile's
	// own bound, chosen so that every chain, set and map name the compiler makes from an id
	// (prefix + id, at most 12 + 64 bytes) is far below MaxName and every comment it makes
	// from one (e.g. "host <EP>: not dhcp, dns or neighbour discovery") fits in MaxComment).
	MaxIDLen = 64

	// MaxComment is the longest comment of a rule, set or map, in bytes. The nft tool
	// refuses longer ones ("comment too long, 128 characters maximum allowed",
	// NFTNL_UDATA_COMMENT_MAXLEN in nft 1.0.6). The kernel keeps up to NFT_USERDATA_MAXLEN
	// (256) bytes of user data, so a longer comment sent over netlink would load, but the
	// output of `nft list ruleset` would then no longer load with `nft -f`.
	MaxComment = 128

	// MaxName is the longest table, chain, set or map name, in bytes: NFT_NAME_MAXLEN (256,
	// include/uapi/linux/netfilter/nf_tables.h) less the terminating NUL. The kernel answers
	// ERANGE beyond it, to netlink and to `nft -f` alike.
	MaxName = 256 - 1

	// MaxTableName is the longest name accepted for `--table`, in bytes: reconcile's own
	// bound (the name also names the state file, "<table>@<netns>.state.json", which must fit
	// in a 255-byte file name).
	MaxTableName = MaxIDLen

	// MaxIfname is the longest interface name, in bytes: IFNAMSIZ (16, include/uapi/linux/if.h)
	// less the terminating NUL. nft refuses longer strings for an ifname key ("String
	// exceeds maximum length of 16").
	MaxIfname = 16 - 1

	// MaxLogPrefix is the longest log_prefix of a profile rule, in bytes (SPEC §2: Felix's
	// 27-character limit; compile appends ": ").
	MaxLogPrefix = 27

	// MaxKernelLogPrefix is the longest prefix of an nft log statement, in bytes:
	// NF_LOG_PREFIXLEN (128, include/uapi/linux/netfilter/nf_log.h) less the terminating NUL;
	// the kernel answers ERANGE beyond it.
	MaxKernelLogPrefix = 128 - 1

	// MaxHostName is the longest host name (an endpoint's host, `--host`), in bytes: RFC 1123
	// §2.1 (after RFC 1035 §2.3.4, 255 octets on the wire, 253 characters written). The kernel
	// hostname that `--host` defaults to is at most 64 bytes (__NEW_UTS_LEN), so every host
	// name Linux reports fits.
	MaxHostName = 253

	// MaxHostLabel is the longest label of a host name (the part between two dots), in bytes:
	// RFC 1035 §2.3.4, kept by RFC 1123 §2.1.
	MaxHostLabel = 63
)

// CheckHostName reports whether name is a host name that an endpoint's host and `--host` may
// hold: 1 to MaxHostName bytes of ASCII letters, digits, '-', '_' and '.', in labels (between
// dots) of 1 to MaxHostLabel bytes, so not starting or ending with '.' and without "..". This
// is RFC 1123's host name syntax (§2.1) with '_' added, as Linux hostnames may hold it (the
// kernel hostname is `--host`'s default); it keeps out look-alikes (Cyrillic letters),
// invisible characters (a zero-width space), white space and control characters, which would
// make an endpoint belong to no host. Upper and lower case are different names: host names
// compare as written. The error starts with the quoted name, e.g.
// `"nоde-1" contains "о" (U+043E): use ASCII letters, ...`, or is "is empty".
func CheckHostName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("is empty: give a host name")
	case len(name) > MaxHostName:
		return fmt.Errorf("\"%s\" is %d bytes; host names are at most %d (RFC 1123)", clip(name), len(name), MaxHostName)
	}
	for i, r := range name {
		if r < 0x80 && (isLetter(byte(r)) || isDigit(byte(r)) || r == '-' || r == '_' || r == '.') {
			continue
		}
		var what string
		switch _, size := utf8.DecodeRuneInString(name[i:]); {
		case r == utf8.RuneError && size == 1:
			what = fmt.Sprintf("the byte 0x%02x (not UTF-8)", name[i])
		case r == ' ':
			what = "a space"
		default:
			what = fmt.Sprintf("%q (U+%04X)", string(r), r)
		}
		return fmt.Errorf("%q contains %s: use ASCII letters, digits, '-', '_' and '.' (RFC 1123 host names)", clip(name), what)
	}
	if name[0] == '.' || name[len(name)-1] == '.' {
		return fmt.Errorf("%q starts or ends with '.': write the name without it (RFC 1123)", clip(name))
	}
	for _, label := range strings.Split(name, ".") {
		switch {
		case label == "":
			return fmt.Errorf("%q has an empty label (\"..\"): RFC 1123 labels are 1-%d bytes", clip(name), MaxHostLabel)
		case len(label) > MaxHostLabel:
			return fmt.Errorf("%q has a label of %d bytes; labels (between dots) are at most %d (RFC 1123)", clip(name), len(label), MaxHostLabel)
		}
	}
	return nil
}

// CheckName reports whether name can be a table, chain, set or map name that the kernel
// takes and that nft text writes and reads back as the same name: 1 to MaxName bytes, an
// unquoted nft identifier (nft accepts no quoted names: `table inet "x"` is a syntax error)
// made of a letter followed by letters, digits, '_', '.' and '-', and not an nft keyword
// (`table inet policy` is a syntax error too). kind ("table", "chain", …) starts the error.
func CheckName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty", kind)
	case len(name) > MaxName:
		return fmt.Errorf("%s name %q is %d bytes; nf_tables names are at most %d", kind, clip(name), len(name), MaxName)
	case !isLetter(name[0]):
		return fmt.Errorf("%s name %q does not start with a letter (nft reads only such names unquoted)", kind, name)
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '.' && c != '-' {
			return fmt.Errorf("%s name %q contains %q: use letters, digits, '_', '.' and '-'", kind, name, string(rune(c)))
		}
	}
	if IsKeyword(name) {
		return fmt.Errorf("%s name %q is an nft keyword: nft cannot read it as a name", kind, name)
	}
	return nil
}

// ValidTableName reports whether name can be the name of reconcile's table (`--table`):
// CheckName's rules, and at most MaxTableName bytes. The error reads
// `table name "policy" is an nft keyword: ...`.
func ValidTableName(name string) error {
	if err := CheckName("table", name); err != nil {
		return err
	}
	if len(name) > MaxTableName {
		return fmt.Errorf("table name %q is %d bytes; at most %d", clip(name), len(name), MaxTableName)
	}
	return nil
}

// CheckIfname reports whether name is an interface name that the kernel takes and that nft
// text writes literally: 1 to MaxIfname bytes of letters, digits, '_', '.' and '-', and not
// "." or ".." (which Linux refuses as interface names). In nft text an interface name is a
// quoted string in which a trailing '*' is a wildcard and '"' or '\' cannot be written, so
// other characters are refused rather than rendered with another meaning.
func CheckIfname(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("interface name is empty")
	case len(name) > MaxIfname:
		return fmt.Errorf("interface name %q is %d bytes; at most %d (IFNAMSIZ)", name, len(name), MaxIfname)
	case name == "." || name == "..":
		return fmt.Errorf("interface name %q is not allowed by Linux", name)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isLetter(c) && !isDigit(c) && c != '_' && c != '.' && c != '-' {
			return fmt.Errorf("interface name %q contains %q: use letters, digits, '_', '.' and '-'", name, string(rune(c)))
		}
	}
	return nil
}

// CheckComment reports whether s can be a comment of a rule, set or map: at most MaxComment
// bytes of printable ASCII without '"' (nft strings have no escape for it), '\' or '$' (nft
// reads "$name" in some strings as a variable).
func CheckComment(s string) error {
	if len(s) > MaxComment {
		return fmt.Errorf("comment %q is %d bytes; nft takes at most %d", clip(s), len(s), MaxComment)
	}
	return checkText("comment", s)
}

// CheckLogPrefix reports whether s can be the prefix of an nft log statement: at most
// MaxKernelLogPrefix bytes of printable ASCII without '"', '\' or '$' (nft expands
// "$name" in a log prefix as a variable).
func CheckLogPrefix(s string) error {
	if len(s) > MaxKernelLogPrefix {
		return fmt.Errorf("log prefix %q is %d bytes; the kernel takes at most %d", clip(s), len(s), MaxKernelLogPrefix)
	}
	return checkText("log prefix", s)
}

func checkText(kind, s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '$' {
			return fmt.Errorf("%s %q contains %q: nft text cannot carry it with the same meaning", kind, clip(s), string(rune(c)))
		}
	}
	return nil
}

// IsKeyword reports whether word is a keyword of the nft 1.0.6 scanner where a table name
// is expected, so that nft text cannot use it as a name (the test checks every word with
// `nft -c`).
func IsKeyword(word string) bool {
	_, ok := keywords[word]
	return ok
}

// Keywords returns the words IsKeyword reports, sorted.
func Keywords() []string { return strings.Fields(keywordText) }

var keywords = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, w := range strings.Fields(keywordText) {
		m[w] = struct{}{}
	}
	return m
}()

// keywordText lists, sorted, the words that nft 1.0.6 reads as keywords at the start of a
// statement (checked one by one with `nft -c` in limits_test.go). Later nft versions may add
// words; the list is reconcile's own.
const keywordText = `
accept add ah all and arp auto-merge
bridge
cgroup chain comment comp constant continue counter cpu create ct
day dccp define delete describe device devices dnat drop dst dup dynamic
ecn element elements eq esp ether exists expires export exthdr
fib flags flow flowtable flush frag fwd
gc-interval ge get goto gt
handle hbh hook hour
ibriport ibrname icmp icmpv6 igmp iif iifgroup iifname iiftype import include index inet insert interval ip ip6 ipsec
jhash jump
le limit list log lshift lt
map mark masquerade meta meter mh missing monitor
ne netdev nftrace not notrack numgen
obriport obrname offload oif oifgroup oifname oiftype or osf
pkttype policy position priority
queue quota
random redefine redirect reject rename replace reset return rshift rt rt0 rt2 rtclassid rule ruleset
sctp secmark set size skgid skuid snat socket srh symhash synproxy
table tcp th time timeout tproxy type typeof
udp udplite undefine update
vlan vmap
xor xt
`

// clip shortens a long value for an error message.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:40] + "…"
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
