package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The one rule for numbers (ports, port ranges, icmp_type/icmp_code and their negations,
// ip_version, protocol numbers, the port/icmp_type/icmp_code of tests, rule text and the
// command-line flags that take a port, an ICMP type or code, or a position): a number is written
// in plain decimal, "0" or a digit 1-9 followed by digits, optionally after a '-'. Every other
// form that YAML 1.1, JSON, Go or Python would read as a number (a leading zero, which YAML 1.1
// and Go read as octal, a '+', a '_', 0x/0o/0b prefixes, a fraction or an exponent) is refused
// with a message that says what to write, so that a number never means anything but the
// decimal the author sees.

// Errors of ParseDecimal, for errors.Is.
var (
	// ErrNotDecimal: the text is a number, but not written in plain decimal (the error is a
	// *NumberError that says what to write instead).
	ErrNotDecimal = errors.New("not written in plain decimal")
	// ErrNotNumber: the text is not a number in any notation.
	ErrNotNumber = errors.New("not a number")
	// ErrNumberRange: the text is a plain decimal that does not fit in 64 bits.
	ErrNumberRange = errors.New("out of range")
)

// NumberError is a number written in a form other than plain decimal. Its message starts with
// the literal, so that callers prefix the field or argument: "dst_ports: " + err.Error() reads
// `dst_ports: 010 has a leading zero: write 10 (YAML 1.1 reads 010 as octal 8)`.
type NumberError struct {
	// Literal is the text as written.
	Literal string
	// Problem says what is wrong with it ("has a leading zero", "is hexadecimal", ...).
	Problem string
	// Write is the plain decimal to write instead; empty when there is none (a fraction).
	Write string
	// Note explains, when it helps, what some reader makes of the literal.
	Note string
}

func (e *NumberError) Error() string {
	s := e.Literal + " " + e.Problem
	if e.Write != "" {
		s += ": write " + e.Write
	}
	if e.Note != "" {
		s += " (" + e.Note + ")"
	}
	return s
}

// Is makes errors.Is(err, ErrNotDecimal) true for a *NumberError.
func (e *NumberError) Is(target error) bool { return target == ErrNotDecimal }

// isPlainDecimal reports whether s is "0" or [1-9][0-9]* (no sign).
func isPlainDecimal(s string) bool {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return false
	}
	return s == "0" || s[0] != '0'
}

// ParseDecimal parses s under the number rule above: -?(0|[1-9][0-9]*), nothing around it.
// A number written in another notation gives a *NumberError (errors.Is ErrNotDecimal) that
// says what to write; text that is no number at all wraps ErrNotNumber; a plain decimal beyond
// 64 bits wraps ErrNumberRange. The messages start with the literal (strings are quoted) and
// complete "field: ". Range checks of the field (0-65535 for a port, ...) are the caller's.
func ParseDecimal(s string) (int64, error) {
	sign, body := "", s
	if s != "" && (s[0] == '-' || s[0] == '+') {
		sign, body = s[:1], s[1:]
	}
	if sign != "+" && isPlainDecimal(body) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s is %w", s, ErrNumberRange)
		}
		return n, nil
	}
	if ne := numberForm(s, sign, body); ne != nil {
		return 0, ne
	}
	return 0, fmt.Errorf("%q is %w", s, ErrNotNumber)
}

// numberForm classifies a literal that is not plain decimal; nil when it is no number at all.
func numberForm(s, sign, body string) *NumberError {
	neg := sign == "-"
	decimal := func(v int64) string {
		if neg {
			v = -v
		}
		return strconv.FormatInt(v, 10)
	}
	lower := strings.ToLower(body)
	// 0x, 0o, 0b (YAML 1.1 and 1.2, Go, Python): the decimal value, when it fits.
	for _, f := range []struct{ prefix, name string }{{"0x", "hexadecimal"}, {"0o", "octal"}, {"0b", "binary"}} {
		if !strings.HasPrefix(lower, f.prefix) || len(body) == 2 {
			continue
		}
		v, err := strconv.ParseInt(strings.ReplaceAll(lower, "_", ""), 0, 64)
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return &NumberError{Literal: s, Problem: "is " + f.name + " and out of range"}
			}
			return nil
		}
		return &NumberError{Literal: s, Problem: "is " + f.name, Write: decimal(v) + " in decimal"}
	}
	// Otherwise only digits, '_', '.', exponents and signs, starting with a digit or a '.'.
	if body == "" || strings.IndexByte("0123456789.", body[0]) < 0 ||
		strings.TrimLeft(body, "0123456789_.eE+-") != "" || !strings.ContainsAny(body, "0123456789") {
		return nil
	}
	digits := strings.ReplaceAll(body, "_", "")
	// A fraction or an exponent: YAML and JSON read it as a float.
	if strings.ContainsAny(digits, ".eE") {
		f, err := strconv.ParseFloat(digits, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil
		}
		problem := "is not an integer"
		if !strings.Contains(digits, ".") {
			problem = "has an exponent"
		}
		ne := &NumberError{Literal: s, Problem: problem}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			ne.Write = decimal(int64(f))
		}
		return ne
	}
	if strings.TrimLeft(digits, "0123456789") != "" || digits == "" {
		return nil // signs inside, like 1-2
	}
	trimmed := strings.TrimLeft(digits, "0")
	if trimmed == "" {
		trimmed = "0"
	}
	v, err := strconv.ParseInt(trimmed, 10, 64)
	if err != nil {
		return &NumberError{Literal: s, Problem: "is out of range"}
	}
	switch {
	case len(digits) > 1 && digits[0] == '0':
		ne := &NumberError{Literal: s, Problem: "has a leading zero", Write: decimal(v)}
		if strings.TrimLeft(digits, "01234567") == "" && !strings.Contains(body, "_") {
			if o, err := strconv.ParseInt(digits, 8, 64); err == nil && o != v {
				ne.Note = fmt.Sprintf("YAML 1.1 reads %s as octal %s", s, decimal(o))
			}
		}
		return ne
	case strings.Contains(body, "_"):
		return &NumberError{Literal: s, Problem: "has '_' in it", Write: decimal(v)}
	default: // the only thing left is the plus sign
		return &NumberError{Literal: s, Problem: "has a '+' sign", Write: decimal(v)}
	}
}

// DecimalIn parses s with ParseDecimal and checks lo <= n <= hi; the message of an out-of-range
// value is "<s> is out of range (lo-hi)". It is for command-line arguments and rule text, where
// the caller prefixes the argument's name.
func DecimalIn(s string, lo, hi int) (int, error) {
	n, err := ParseDecimal(s)
	if err != nil {
		if errors.Is(err, ErrNumberRange) {
			return 0, fmt.Errorf("%s is out of range (%d-%d)", s, lo, hi)
		}
		return 0, err
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, fmt.Errorf("%s is out of range (%d-%d)", s, lo, hi)
	}
	return int(n), nil
}

// jsonKeyRE finds a JSON object key and its colon.
var jsonKeyRE = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"\s*:`)

// jsonNumberProblem explains a JSON syntax error at byte off of data that is a number written
// in a notation JSON lacks (010, +80, 0x50, 1_000): it returns where the number starts and the
// message, naming the field (the nearest key before it) first; ok is false for other errors.
func jsonNumberProblem(data []byte, off int) (start int, msg string, ok bool) {
	in := func(c byte) bool {
		return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '+' || c == '-'
	}
	if off < 0 || off >= len(data) || !in(data[off]) {
		return 0, "", false
	}
	start, end := off, off
	for start > 0 && in(data[start-1]) {
		start--
	}
	for end < len(data) && in(data[end]) {
		end++
	}
	var ne *NumberError
	if _, err := ParseDecimal(string(data[start:end])); !errors.As(err, &ne) {
		return 0, "", false
	}
	q := *ne
	q.Note = "" // the note is about YAML
	msg = q.Error()
	if keys := jsonKeyRE.FindAllSubmatch(data[:start], -1); len(keys) > 0 {
		var key string
		if json.Unmarshal(append(append([]byte(`"`), keys[len(keys)-1][1]...), '"'), &key) == nil {
			msg = key + ": " + msg
		}
	}
	return start, msg, true
}
