package endpoint

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// A PathTemplate is an endpoint path: a relative URI such as "/echo", or a
// level-1 URI template such as "/chat/{room}" in which some whole segments
// are variables (Jakarta WebSocket 3.1.1, RFC 6570). Make one with
// [ParseTemplate]; a PathTemplate is immutable and safe for concurrent use.
//
// The rules a path must follow:
//   - It starts with "/". "/" alone is the root path, with no segments.
//   - Segments are separated by "/". No segment is empty, so the path has
//     no "//" and no trailing "/" (except the root path).
//   - A segment is a literal or a variable. A variable is exactly
//     "{name}" and fills the whole segment; "x{a}" and "{a}{b}" are errors.
//   - A variable name is one or more ASCII letters, digits, '_' or '-',
//     optionally in dot-separated parts: "room", "guest-id", "user.id".
//     It may not start or end with '.' or contain "..". A name appears at
//     most once in a path.
//   - A literal is any valid UTF-8 text except '{', '}', '?', '#' and ASCII
//     control characters; non-ASCII text such as "방" is allowed as is. A
//     '%' must start a valid percent-escape ("%EB"). A literal may not be
//     "." or "..".
//
// Literals are compared in percent-decoded form, so "/chat/방" and
// "/chat/%EB%B0%A9" are the same path: each matches a request for either
// spelling, and the two are [PathTemplate.Equivalent].
type PathTemplate struct {
	raw  string
	segs []segment
	vars []string
}

// A segment is one segment of a template: a literal (name == "") or a
// variable (name != "").
type segment struct {
	raw  string // as written
	lit  string // the literal, percent-decoded; "" for a variable
	name string // the variable name; "" for a literal
}

func (s segment) isVar() bool { return s.name != "" }

// TemplateError reports a path that is not a valid template, or a template
// that [TemplateSet.Add] refused because it conflicts with one already
// added.
type TemplateError struct {
	// Template is the template as written.
	Template string
	// Reason says which rule the template breaks.
	Reason string
	// Conflict is, for an Add conflict, the template already in the set
	// (as written) that this one duplicates or is equivalent to; it is ""
	// for a parse error.
	Conflict string
}

// Error implements error.
func (e *TemplateError) Error() string {
	return fmt.Sprintf("endpoint: path template %q: %s", e.Template, e.Reason)
}

// ParseTemplate parses an endpoint path, as for ServerConfig.Path. The
// error, a *[TemplateError], names the path and the rule it breaks, such as
//
//	endpoint: path template "/a/{}": empty variable name
//
// See [PathTemplate] for the rules.
func ParseTemplate(path string) (*PathTemplate, error) {
	fail := func(format string, args ...any) (*PathTemplate, error) {
		return nil, &TemplateError{Template: path, Reason: fmt.Sprintf(format, args...)}
	}
	if path == "" {
		return fail("empty path")
	}
	if path[0] != '/' {
		return fail(`must start with "/"`)
	}
	t := &PathTemplate{raw: path}
	if path == "/" {
		return t, nil
	}
	if path[len(path)-1] == '/' {
		return fail(`trailing "/" (only the root path "/" may end with "/")`)
	}
	rest := path[1:]
	for i := 1; ; i++ {
		raw, tail, more := strings.Cut(rest, "/")
		switch {
		case raw == "":
			return fail(`empty segment %d ("//")`, i)
		case raw == "." || raw == "..":
			return fail("segment %d is the dot segment %q", i, raw)
		case strings.ContainsAny(raw, "{}"):
			name, ok := strings.CutPrefix(raw, "{")
			if !ok || !strings.HasSuffix(name, "}") || strings.ContainsAny(name[:len(name)-1], "{}") {
				return fail(`segment %d (%q): a variable must be a whole segment, as in "/a/{name}"`, i, raw)
			}
			name = name[:len(name)-1]
			if name == "" {
				return fail("empty variable name")
			}
			if !validVarName(name) {
				return fail(`invalid variable name %q: use ASCII letters, digits, '_', '-', and '.' between them`, name)
			}
			for _, v := range t.vars {
				if v == name {
					return fail("variable %q used twice", name)
				}
			}
			t.vars = append(t.vars, name)
			t.segs = append(t.segs, segment{raw: raw, name: name})
		default:
			lit, reason := decodeLiteral(raw)
			if reason != "" {
				return fail("segment %d (%q): %s", i, raw, reason)
			}
			t.segs = append(t.segs, segment{raw: raw, lit: lit})
		}
		if !more {
			return t, nil
		}
		rest = tail
	}
}

// validVarName reports whether name is one or more parts of ASCII letters,
// digits, '_' and '-', separated by single dots.
func validVarName(name string) bool {
	if name == "" || name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, "..") {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// decodeLiteral checks a literal segment and returns it percent-decoded,
// or a reason why it is not a valid literal.
func decodeLiteral(raw string) (lit, reason string) {
	if !utf8.ValidString(raw) {
		return "", "not valid UTF-8"
	}
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case c == '?' || c == '#':
			return "", fmt.Sprintf("%q is not allowed in a path", string(c))
		case c < 0x20 || c == 0x7f:
			return "", fmt.Sprintf("control character %q", string(c))
		}
	}
	lit, err := url.PathUnescape(raw)
	if err != nil {
		return "", "invalid percent-escape"
	}
	if lit == "." || lit == ".." {
		return "", fmt.Sprintf("decodes to the dot segment %q", lit)
	}
	return lit, ""
}

// String returns the template as written.
func (t *PathTemplate) String() string { return t.raw }

// Vars returns the names of the template's variables, left to right. The
// slice is a copy; it is empty for an exact path.
func (t *PathTemplate) Vars() []string {
	if len(t.vars) == 0 {
		return nil
	}
	return append([]string(nil), t.vars...)
}

// IsExact reports whether the template has no variables, so that it
// matches exactly one path (in its percent-encoded spellings).
func (t *PathTemplate) IsExact() bool { return len(t.vars) == 0 }

// Segments returns the number of segments: 0 for "/", 1 for "/a" and
// "/{x}", 2 for "/a/{x}".
func (t *PathTemplate) Segments() int { return len(t.segs) }

// Match reports whether path matches the template and returns the values
// of its variables. path is the request path without the query, as sent
// on the wire, still percent-encoded: [url.URL.EscapedPath], not
// [url.URL.Path], which is already decoded (decoding it again would turn
// "%2525" into "%", and a decoded "%2F" would split a segment).
//
// The path is split on "/" and compared segment by segment; a path with a
// different number of segments never matches. A literal segment matches a
// path segment that is equal to it once both are percent-decoded ("방"
// matches "방" and "%EB%B0%A9"). A variable matches any non-empty segment
// with valid percent-escapes that does not decode to "." or ".." (a
// normalized request path has no dot segments); its value is the
// segment decoded with [url.PathUnescape], so "/chat/%EB%B0%A9" against
// "/chat/{room}" gives room = "방", and "%2F" gives a "/" inside the value.
// So a path with an empty segment, such as a trailing "/", matches only a
// template with a literal there, which cannot be empty: "/a/" matches
// neither "/a" nor "/a/{x}".
//
// params is nil when the template has no variables; otherwise it is a new
// map the caller owns.
func (t *PathTemplate) Match(path string) (params map[string]string, ok bool) {
	if path == "" || path[0] != '/' {
		return nil, false
	}
	if path == "/" || len(t.segs) == 0 {
		return nil, path == "/" && len(t.segs) == 0
	}
	rest := path[1:]
	last := len(t.segs) - 1
	for i, s := range t.segs {
		seg, tail, more := strings.Cut(rest, "/")
		if more != (i < last) {
			return nil, false
		}
		if s.isVar() {
			if !validValue(seg) {
				return nil, false
			}
		} else if !s.matchLiteral(seg) {
			return nil, false
		}
		rest = tail
	}
	if len(t.vars) == 0 {
		return nil, true
	}
	return t.params(path), true
}

// params returns the values of the variables in path, which must match t.
func (t *PathTemplate) params(path string) map[string]string {
	params := make(map[string]string, len(t.vars))
	rest := path[1:]
	for _, s := range t.segs {
		seg, tail, _ := strings.Cut(rest, "/")
		if s.isVar() {
			v, err := url.PathUnescape(seg)
			if err != nil { // validValue accepted it: cannot happen
				v = seg
			}
			params[s.name] = v
		}
		rest = tail
	}
	return params
}

// matchLiteral reports whether the path segment seg, percent-decoded,
// equals the literal s.
func (s segment) matchLiteral(seg string) bool {
	if strings.IndexByte(seg, '%') < 0 {
		return seg == s.lit
	}
	if seg == s.raw {
		return true
	}
	d, err := url.PathUnescape(seg)
	return err == nil && d == s.lit
}

// validValue reports whether the path segment seg can be the value of a
// variable: not empty, with valid percent-escapes, and not a dot segment
// once decoded. It does not allocate.
func validValue(seg string) bool {
	if seg == "" {
		return false
	}
	for i := 0; i < len(seg); i++ {
		if seg[i] == '%' {
			if i+2 >= len(seg) || !isHex(seg[i+1]) || !isHex(seg[i+2]) {
				return false
			}
			i += 2
		}
	}
	return !isDotSegment(seg)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isDotSegment reports whether seg decodes to "." or "..", spelling each dot
// as "." or "%2E".
func isDotSegment(seg string) bool {
	dots := 0
	for seg != "" {
		switch {
		case seg[0] == '.':
			seg = seg[1:]
		case len(seg) >= 3 && seg[0] == '%' && seg[1] == '2' && (seg[2] == 'e' || seg[2] == 'E'):
			seg = seg[3:]
		default:
			return false
		}
		dots++
	}
	return dots == 1 || dots == 2
}

// Equivalent reports whether t and other have the same shape: the same
// number of segments, variables at the same places, and the same literals
// (compared percent-decoded) at the others. Variable names do not count:
// "/a/{x}" and "/a/{y}" are equivalent, since no request could tell them
// apart, and an application that maps both is invalid (Jakarta WebSocket
// WSC-3.1.1-2). A nil template is equivalent to nothing.
func (t *PathTemplate) Equivalent(other *PathTemplate) bool {
	if t == nil || other == nil || len(t.segs) != len(other.segs) {
		return false
	}
	for i, a := range t.segs {
		b := other.segs[i]
		if a.isVar() != b.isVar() || a.lit != b.lit {
			return false
		}
	}
	return true
}

// A TemplateSet maps endpoint paths to values of type T, and finds the
// value for a request path by the Jakarta WebSocket precedence rules
// (specification section 3.1.1):
//
//  1. A path matches only templates with the same number of segments, that
//     it matches in full (see [PathTemplate.Match]).
//  2. An exact path (no variables) that matches wins: "/a/b" beats
//     "/a/{x}" for "/a/b".
//  3. Otherwise, of two matching templates, the one with a literal at the
//     leftmost segment where one has a literal and the other a variable
//     wins. For "/a/b": "/a/{y}" beats "/{x}/b", however many variables
//     follow. For "/a/d/c": "/a/{v}/c" beats "/a/{v1}/{v2}".
//
// Rule 2 is rule 3 applied to a template with no variables. Two matching
// templates always differ in that way somewhere, because [TemplateSet.Add]
// refuses equivalent templates, so there is exactly one best match, whatever
// the order the templates were added in.
//
// Unlike a literal reading of the specification's algorithm, which keeps
// the literal candidates at each segment before it looks further right,
// only full matches compete: with "/a/b/c" and "/{x}/b/d", the path
// "/a/b/d" matches "/{x}/b/d" with x = "a", where the literal reading
// would match nothing. (Tomcat's and Tyrus's code reads as doing the same;
// that has not been tested.)
//
// The zero value is an empty set ready to use. Match may be called from
// many goroutines at once, but not while Add is running.
type TemplateSet[T any] struct {
	exact map[string]*setEntry[T] // exact templates, by the path as written
	root  setNode[T]              // every template, by segment
	n     int
}

type setEntry[T any] struct {
	t *PathTemplate
	v T
}

// A setNode is a node of a trie of templates by segment: one child per
// decoded literal, one for a variable, and the template that ends here.
type setNode[T any] struct {
	lits map[string]*setNode[T]
	vari *setNode[T]
	leaf *setEntry[T]
}

// Add adds a template and its value. It returns a *[TemplateError] naming
// both templates if the set already has the same path or an
// [PathTemplate.Equivalent] one, as in
//
//	endpoint: path template "/a/{y}": equivalent to "/a/{x}", already added (variable names do not count)
//
// and then leaves the set as it was.
func (s *TemplateSet[T]) Add(t *PathTemplate, v T) error {
	if t == nil {
		return &TemplateError{Reason: "nil template"}
	}
	n := &s.root
	for _, seg := range t.segs {
		if seg.isVar() {
			if n.vari == nil {
				n.vari = new(setNode[T])
			}
			n = n.vari
			continue
		}
		c := n.lits[seg.lit]
		if c == nil {
			if n.lits == nil {
				n.lits = make(map[string]*setNode[T])
			}
			c = new(setNode[T])
			n.lits[seg.lit] = c
		}
		n = c
	}
	if n.leaf != nil {
		reason := fmt.Sprintf("equivalent to %q, already added (variable names do not count)", n.leaf.t.raw)
		if n.leaf.t.raw == t.raw {
			reason = "added twice"
		} else if t.IsExact() {
			reason = fmt.Sprintf("same path as %q, already added", n.leaf.t.raw)
		}
		return &TemplateError{Template: t.raw, Reason: reason, Conflict: n.leaf.t.raw}
	}
	e := &setEntry[T]{t: t, v: v}
	n.leaf = e
	if t.IsExact() {
		if s.exact == nil {
			s.exact = make(map[string]*setEntry[T])
		}
		s.exact[t.raw] = e
	}
	s.n++
	return nil
}

// Len returns the number of templates in the set.
func (s *TemplateSet[T]) Len() int { return s.n }

// Match returns the value of the template that best matches path, by the
// rules in [TemplateSet], and the values of its variables (see
// [PathTemplate.Match], also for the form path must be in). params is nil
// for an exact path; otherwise it is a new map the caller owns.
//
// A path that is an exact template as written is found with one map lookup
// and no allocation; so is a path that matches nothing, unless it has
// percent-escapes. Other paths walk a trie of segments, trying the literal
// before the variable at each segment.
func (s *TemplateSet[T]) Match(path string) (v T, params map[string]string, ok bool) {
	if e := s.exact[path]; e != nil {
		return e.v, nil, true
	}
	if path == "" || path[0] != '/' {
		return v, nil, false
	}
	var e *setEntry[T]
	if path == "/" {
		e = s.root.leaf
	} else {
		e = s.root.find(path[1:])
	}
	if e == nil {
		return v, nil, false
	}
	if e.t.IsExact() {
		return e.v, nil, true
	}
	return e.v, e.t.params(path), true
}

// find returns the best template under n for the segments in p, which
// holds at least one (maybe empty) segment. Trying the literal child first
// and backtracking to the variable child finds the match whose
// literal/variable pattern is least from the left, as [TemplateSet]
// requires, visiting each node at most once.
func (n *setNode[T]) find(p string) *setEntry[T] {
	seg, tail, more := strings.Cut(p, "/")
	if n.lits != nil {
		key, err := seg, error(nil)
		if strings.IndexByte(seg, '%') >= 0 {
			key, err = url.PathUnescape(seg)
		}
		if c := n.lits[key]; err == nil && c != nil {
			if e := c.next(tail, more); e != nil {
				return e
			}
		}
	}
	if n.vari != nil && validValue(seg) {
		return n.vari.next(tail, more)
	}
	return nil
}

func (n *setNode[T]) next(tail string, more bool) *setEntry[T] {
	if !more {
		return n.leaf
	}
	return n.find(tail)
}
