package main

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/pflag"

	"github.com/reconcile-dev/reconcile/schema"
)

// decimalValue is an integer flag in plain decimal within lo..hi (schema.DecimalIn, the rule
// for every number reconcile reads). pflag's IntVar parses with strconv's base 0, so that
// "--port 010" would be port 8 and "--port 0x50" port 80; this flag refuses both and says what
// to write: `invalid argument "010" for "--port" flag: 010 has a leading zero: write 10 ...`.
type decimalValue struct {
	p      *int
	lo, hi int
}

func (v *decimalValue) Set(s string) error {
	n, err := schema.DecimalIn(s, v.lo, v.hi)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

func (v *decimalValue) String() string { return strconv.Itoa(*v.p) }
func (v *decimalValue) Type() string   { return "int" }

// decimalVar defines a decimalValue flag; the default is 0 (not shown in help).
func decimalVar(f *pflag.FlagSet, p *int, name string, lo, hi int, usage string) {
	*p = 0
	f.Var(&decimalValue{p: p, lo: lo, hi: hi}, name, usage)
}

// checkProtocolFlag refuses a protocol number of flag name written in another notation than
// plain decimal ("06", "+6", "0x6"), saying what to write; names and other numbers are left to
// the caller's checks.
func checkProtocolFlag(name, p string) error {
	if _, err := schema.ParseDecimal(p); errors.Is(err, schema.ErrNotDecimal) {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
