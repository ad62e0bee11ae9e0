package annotated

import (
	"fmt"
	"strconv"
	"strings"
)

// ServerEndpoint marks a struct type as an annotated endpoint, as JSR 356's
// @ServerEndpoint marks a class. Embed it by value, directly in the
// endpoint struct (not through another embedded struct), with the
// endpoint's settings in its struct tag:
//
//	type Chat struct {
//		annotated.ServerEndpoint `path:"/chat/{room}" subprotocols:"chat.v2,chat.v1" maxText:"65536"`
//		...
//	}
//
// The tag keys, each at most once (keys are case-sensitive; any other key
// is an error):
//   - path: the endpoint path, a URI template checked by
//     [endpoint.ParseTemplate]. Required unless [WithPath] is given.
//   - subprotocols: the subprotocols the endpoint speaks, comma-separated,
//     most preferred first; each is an HTTP token. [WithSubprotocols]
//     replaces it.
//   - maxText, maxBinary: the largest whole text or binary message a
//     session accepts, in bytes, as a decimal integer; 0 (the default)
//     means the web context's setting.
//
// The tag follows the struct tag convention (key:"value" pairs separated
// by spaces, values in Go string syntax), so `go vet` checks its syntax
// too. ServerEndpoint has no fields and no methods: it adds nothing to the
// endpoint's method set or its JSON form.
type ServerEndpoint struct{}

// Tag keys of the marker.
const (
	tagPath         = "path"
	tagSubprotocols = "subprotocols"
	tagMaxText      = "maxText"
	tagMaxBinary    = "maxBinary"
)

// markerTags is the parsed tag of the marker. A zero field with its has
// flag false was not in the tag.
type markerTags struct {
	path            string
	hasPath         bool
	subprotocols    []string
	hasSubprotocols bool
	maxText         int
	hasMaxText      bool
	maxBinary       int
	hasMaxBinary    bool
}

// String formats the tags in canonical form (keys in a fixed order, values
// quoted with strconv.Quote); parseMarkerTag reads it back unchanged.
func (m markerTags) String() string {
	var parts []string
	add := func(k, v string) { parts = append(parts, k+":"+strconv.Quote(v)) }
	if m.hasPath {
		add(tagPath, m.path)
	}
	if m.hasSubprotocols {
		add(tagSubprotocols, strings.Join(m.subprotocols, ","))
	}
	if m.hasMaxText {
		add(tagMaxText, strconv.Itoa(m.maxText))
	}
	if m.hasMaxBinary {
		add(tagMaxBinary, strconv.Itoa(m.maxBinary))
	}
	return strings.Join(parts, " ")
}

// parseMarkerTag parses the marker's struct tag. It returns every problem
// it finds, each naming the key and the rule, and the keys it could read.
// It does not check the path against the template rules: the path may be
// replaced by WithPath, and is checked once chosen.
func parseMarkerTag(tag string) (m markerTags, problems []string) {
	pairs, err := splitTag(tag)
	if err != "" {
		problems = append(problems, err)
	}
	seen := map[string]bool{}
	for _, kv := range pairs {
		k, v := kv[0], kv[1]
		if seen[k] {
			problems = append(problems, fmt.Sprintf("key %q given twice", k))
			continue
		}
		seen[k] = true
		switch k {
		case tagPath:
			m.path, m.hasPath = v, true
		case tagSubprotocols:
			subs, p := parseSubprotocols(v)
			if p != "" {
				problems = append(problems, tagSubprotocols+": "+p)
				continue
			}
			m.subprotocols, m.hasSubprotocols = subs, true
		case tagMaxText, tagMaxBinary:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				problems = append(problems, fmt.Sprintf("%s %q is not a non-negative decimal integer (bytes)", k, v))
				continue
			}
			if k == tagMaxText {
				m.maxText, m.hasMaxText = n, true
			} else {
				m.maxBinary, m.hasMaxBinary = n, true
			}
		default:
			problems = append(problems, fmt.Sprintf("unknown key %q (want path, subprotocols, maxText or maxBinary)", k))
		}
	}
	return m, problems
}

// splitTag splits a struct tag into key/value pairs by the grammar of
// reflect.StructTag.Lookup, but reports malformed input instead of
// ignoring the rest of the tag.
func splitTag(tag string) (pairs [][2]string, problem string) {
	for {
		i := 0
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		tag = tag[i:]
		if tag == "" {
			return pairs, ""
		}
		i = 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			return pairs, fmt.Sprintf("malformed struct tag at %q: want key:\"value\" pairs separated by spaces", clip(tag))
		}
		key := tag[:i]
		tag = tag[i+1:]
		i = 1
		for i < len(tag) && tag[i] != '"' {
			if tag[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(tag) {
			return pairs, fmt.Sprintf("malformed struct tag at %q: unterminated value of key %q", clip(tag), key)
		}
		value, err := strconv.Unquote(tag[:i+1])
		if err != nil {
			return pairs, fmt.Sprintf("malformed struct tag: value %s of key %q is not a Go string", clip(tag[:i+1]), key)
		}
		pairs = append(pairs, [2]string{key, value})
		tag = tag[i+1:]
		if tag != "" && tag[0] != ' ' {
			return pairs, fmt.Sprintf("malformed struct tag at %q: want a space between pairs", clip(tag))
		}
	}
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// parseSubprotocols splits a comma-separated list of subprotocol tokens,
// trimming spaces and tabs around each.
func parseSubprotocols(v string) ([]string, string) {
	if strings.TrimSpace(v) == "" {
		return nil, "empty list"
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.Trim(p, " \t")
		if p := checkSubprotocol(p, out); p != "" {
			return nil, p
		}
		out = append(out, p)
	}
	return out, ""
}

// checkSubprotocol checks one subprotocol name against the token rule of
// RFC 6455 §4.1 (RFC 7230 tchar) and the names before it.
func checkSubprotocol(p string, before []string) string {
	if p == "" {
		return "empty subprotocol name"
	}
	for i := 0; i < len(p); i++ {
		if !isTokenChar(p[i]) {
			return fmt.Sprintf("%q is not a token (letters, digits and !#$%%&'*+-.^_`|~)", p)
		}
	}
	for _, b := range before {
		if b == p {
			return fmt.Sprintf("%q listed twice", p)
		}
	}
	return ""
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}
