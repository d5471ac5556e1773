package badrepos

// Awaiting lists the cases that today's code does not yet refuse the way the corpus demands
// (exit 1, nothing on stderr, every message prefixed with its path, the same under --dir and
// --repo, one error per root cause), each with the rule of issue 7 that fixes it. The corpus
// tests log these instead of failing, and fail once a listed case passes, so that its entry
// is removed and the case holds from then on.
var Awaiting = map[string]string{
	"005-profile-id-over-64-bytes":     "issue 7 kind 5: ids at most limits.MaxIDLen (64) bytes",
	"008-tag-over-64-bytes":            "issue 7 kind 5: tags at most limits.MaxIDLen (64) bytes",
	"018-protocol-quoted-leading-zero": "issue 7 kind 1: a quoted decimal protocol \"06\" is refused",
	"042-empty-dst-ports-list": "empty match values: an empty dst_ports list matches every port today; " +
		"no helper of issue 7 owns it (the lead decides: refuse like src_tag: \"\", or drop the case)",
	"046-endpoint-id-over-64-bytes": "issue 7 kind 5: ids at most limits.MaxIDLen (64) bytes (comments over 128 bytes)",
	"051-interface-with-star":       "issue 7 kind 5: interface names restricted to what the kernel and nft accept",
	"061-address-claimed-twice":     "issue 7 kind 7: two endpoints may not claim the same address",
	"062-overlapping-nets":          "issue 7 kind 7: overlapping endpoint addresses are refused",
	"084-huge-file":                 "issue 7 kind 2: one loader with one size limit for --dir and --repo",
	"085-symlink-inside":            "issue 7 kind 2: one loader refuses symbolic links under --dir and --repo",
	"086-symlink-outside":           "issue 7 kind 2: one loader refuses symbolic links under --dir and --repo",
	"087-non-utf8-file-name":        "issue 7 kind 2: one loader refuses file names that are not UTF-8",
	"088-fifo":                      "issue 7 kind 2: one loader refuses entries that are not regular files",
	"089-symlink-dangling":          "issue 7 kind 2: one loader refuses symbolic links under --dir and --repo",
	"098-number-leading-zero":       "issue 7 kind 1: plain decimal numbers only (010 refused)",
	"099-number-hex":                "issue 7 kind 1: plain decimal numbers only (0x50 refused)",
	"101-number-underscore":         "issue 7 kind 1: plain decimal numbers only (1_000 refused)",
	"102-number-octal-icmp-type":    "issue 7 kind 1: plain decimal numbers only (010 refused)",
	"103-number-hex-ip-version":     "issue 7 kind 1: plain decimal numbers only (0x6 refused)",
	"112-number-plus-sign":          "issue 7 kind 1: plain decimal numbers only (+80 refused)",
	"113-number-octal-0o":           "issue 7 kind 1: plain decimal numbers only (0o10 refused)",
	"104-broken-profile-used-twice": "issue 7 kind 4: one error per root cause (no \"does not exist\" echo of a broken profile)",
}
