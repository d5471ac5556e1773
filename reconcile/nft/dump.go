package nft

import (
	"encoding/binary"
	"fmt"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Reading rules back chain by chain (google/nftables GetRules) costs one netlink round trip
// per chain, and the library silently drops expressions it cannot decode. dumpRules instead
// asks the kernel for every rule of the table in one dump (NFT_MSG_GETRULE filtered by table
// only) and decodes the expressions itself, keeping the ones it does not know as opaqueExpr,
// so that a foreign rule can never read back as one of ours.

// rawRule is one rule of the dump.
type rawRule struct {
	chain    string
	handle   uint64
	exprs    []any // expr.Any values, or opaqueExpr
	userData []byte
}

// opaqueExpr is an expression that the decoder does not map.
type opaqueExpr struct {
	name string
	data []byte
}

func nftMsg(t uint16) netlink.HeaderType {
	return netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | t)
}

// dumpRules returns every rule of table inet <table>, in chain and rule order.
func dumpRules(conn *netlink.Conn, table string) ([]rawRule, error) {
	attrs, err := netlink.MarshalAttributes([]netlink.Attribute{{Type: unix.NFTA_RULE_TABLE, Data: []byte(table + "\x00")}})
	if err != nil {
		return nil, err
	}
	req := netlink.Message{
		Header: netlink.Header{Type: nftMsg(unix.NFT_MSG_GETRULE), Flags: netlink.Request | netlink.Dump},
		Data:   append([]byte{unix.NFPROTO_INET, unix.NFNETLINK_V0, 0, 0}, attrs...),
	}
	msgs, err := conn.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("dump rules: %w", err)
	}
	out := make([]rawRule, 0, len(msgs))
	for _, m := range msgs {
		if m.Header.Type != nftMsg(unix.NFT_MSG_NEWRULE) || len(m.Data) < 4 {
			continue
		}
		r, err := parseRule(m.Data[4:])
		if err != nil {
			return nil, fmt.Errorf("decode rule: %w", err)
		}
		out = append(out, r)
	}
	return out, nil
}

func parseRule(b []byte) (rawRule, error) {
	var r rawRule
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return r, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_RULE_CHAIN:
			r.chain = ad.String()
		case unix.NFTA_RULE_HANDLE:
			r.handle = ad.Uint64()
		case unix.NFTA_RULE_USERDATA:
			r.userData = append([]byte(nil), ad.Bytes()...)
		case unix.NFTA_RULE_EXPRESSIONS:
			r.exprs, err = parseExprs(ad.Bytes())
			if err != nil {
				return r, err
			}
		}
	}
	return r, ad.Err()
}

func parseExprs(b []byte) ([]any, error) {
	list, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	var out []any
	for list.Next() {
		if list.Type() != unix.NFTA_LIST_ELEM {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(list.Bytes())
		if err != nil {
			return nil, err
		}
		var name string
		var data []byte
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_EXPR_NAME:
				name = ad.String()
			case unix.NFTA_EXPR_DATA:
				data = append([]byte(nil), ad.Bytes()...)
			}
		}
		if err := ad.Err(); err != nil {
			return nil, err
		}
		out = append(out, parseExpr(name, data))
	}
	return out, list.Err()
}

// parseExpr decodes the expressions we generate; anything else stays opaque.
func parseExpr(name string, data []byte) any {
	var e expr.Any
	switch name {
	case "meta":
		e = &expr.Meta{}
	case "cmp":
		e = &expr.Cmp{}
	case "payload":
		e = &expr.Payload{}
	case "bitwise":
		e = &expr.Bitwise{}
	case "ct":
		e = &expr.Ct{}
	case "lookup":
		e = &expr.Lookup{}
	case "counter":
		e = &expr.Counter{}
	case "log":
		e = &expr.Log{}
	case "range":
		e = &expr.Range{}
	case "immediate":
		e = &expr.Immediate{}
	default:
		return opaqueExpr{name: name, data: data}
	}
	if err := expr.Unmarshal(unix.NFPROTO_INET, data, e); err != nil {
		return opaqueExpr{name: name, data: data}
	}
	if imm, ok := e.(*expr.Immediate); ok && imm.Register == unix.NFT_REG_VERDICT && len(imm.Data) == 0 {
		v := &expr.Verdict{}
		if err := expr.Unmarshal(unix.NFPROTO_INET, data, v); err != nil {
			return opaqueExpr{name: name, data: data}
		}
		return v
	}
	return e
}
