package endpoint_test

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wsc-dev/wsc/endpoint"
)

func mustParse(tb testing.TB, path string) *endpoint.PathTemplate {
	tb.Helper()
	t, err := endpoint.ParseTemplate(path)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestParseTemplate_errors(t *testing.T) {
	tests := []struct {
		path, reason string
	}{
		{"", "empty path"},
		{"a/b", `must start with "/"`},
		{"{a}", `must start with "/"`},
		{"/a/", `trailing "/" (only the root path "/" may end with "/")`},
		{"/{a}/", `trailing "/"`},
		{"//", `trailing "/"`},
		{"/a//b", `empty segment 2 ("//")`},
		{"//a", `empty segment 1 ("//")`},
		{"/a/./b", `segment 2 is the dot segment "."`},
		{"/a/../b", `segment 2 is the dot segment ".."`},
		{"/..", `segment 1 is the dot segment ".."`},
		{"/a/%2e%2E", `segment 2 ("%2e%2E"): decodes to the dot segment ".."`},
		{"/a/{}", "empty variable name"},
		{"/a/{", "a variable must be a whole segment"},
		{"/a/}", "a variable must be a whole segment"},
		{"/a/x{b}", `segment 2 ("x{b}"): a variable must be a whole segment, as in "/a/{name}"`},
		{"/a/{b}x", "a variable must be a whole segment"},
		{"/a/{b}{c}", "a variable must be a whole segment"},
		{"/a/{{b}}", "a variable must be a whole segment"},
		{"/a/{b c}", `invalid variable name "b c"`},
		{"/a/{b/c}", "a variable must be a whole segment"}, // "{b" and "c}"
		{"/a/{방}", `invalid variable name "방"`},
		{"/a/{.b}", `invalid variable name ".b"`},
		{"/a/{b.}", `invalid variable name "b."`},
		{"/a/{b..c}", `invalid variable name "b..c"`},
		{"/a/{%41}", `invalid variable name "%41"`},
		{"/{x}/{x}", `variable "x" used twice`},
		{"/{x}/a/{y}/{x}", `variable "x" used twice`},
		{"/a?b", `segment 1 ("a?b"): "?" is not allowed in a path`},
		{"/a#b", `"#" is not allowed in a path`},
		{"/a\x00b", `control character "\x00"`},
		{"/a\x7f", `control character "\x7f"`},
		{"/100%", "segment 1 (\"100%\"): invalid percent-escape"},
		{"/a%zz", "invalid percent-escape"},
		{"/a/\xff", "not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, err := endpoint.ParseTemplate(tt.path)
			if err == nil {
				t.Fatalf("ParseTemplate(%q) = %v, want an error", tt.path, got)
			}
			want := fmt.Sprintf("endpoint: path template %q: ", tt.path)
			if msg := err.Error(); !strings.HasPrefix(msg, want) || !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q, want %q followed by %q", msg, want, tt.reason)
			}
			var te *endpoint.TemplateError
			if !errors.As(err, &te) || te.Template != tt.path || te.Conflict != "" {
				t.Errorf("error %#v, want a *TemplateError for %q without Conflict", err, tt.path)
			}
		})
	}
	// The exact wording of the example in the documentation.
	_, err := endpoint.ParseTemplate("/a/{}")
	if want := `endpoint: path template "/a/{}": empty variable name`; err == nil || err.Error() != want {
		t.Errorf("ParseTemplate(%q) error = %v, want %s", "/a/{}", err, want)
	}
}

func TestParseTemplate(t *testing.T) {
	tests := []struct {
		path     string
		segments int
		vars     []string
	}{
		{"/", 0, nil},
		{"/echo", 1, nil},
		{"/a/b/c", 3, nil},
		{"/{x}", 1, []string{"x"}},
		{"/chat/{room}", 2, []string{"room"}},
		{"/bookings/{guest-id}", 2, []string{"guest-id"}},
		{"/{a}/방", 2, []string{"a"}},
		{"/채팅/{room_id}", 2, []string{"room_id"}},
		{"/a/{user.id}/{v2}/{_}/{-}", 5, []string{"user.id", "v2", "_", "-"}},
		{"/{a}/{b}/{c}", 3, []string{"a", "b", "c"}},
		{"/%EB%B0%A9", 1, nil},
		{"/a%2Fb", 1, nil},
		{"/a b/~x/!$&'()*+,;=:@/...", 4, nil},
		{"/...", 1, nil},
		{"/.a", 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			p := mustParse(t, tt.path)
			if p.String() != tt.path {
				t.Errorf("String() = %q", p.String())
			}
			if p.Segments() != tt.segments {
				t.Errorf("Segments() = %d, want %d", p.Segments(), tt.segments)
			}
			if !slices.Equal(p.Vars(), tt.vars) {
				t.Errorf("Vars() = %q, want %q", p.Vars(), tt.vars)
			}
			if p.IsExact() != (len(tt.vars) == 0) {
				t.Errorf("IsExact() = %v", p.IsExact())
			}
			if !p.Equivalent(p) {
				t.Error("not equivalent to itself")
			}
		})
	}
	// Vars returns a copy.
	p := mustParse(t, "/{a}/{b}")
	p.Vars()[0] = "z"
	if p.Vars()[0] != "a" {
		t.Error("Vars() shares its slice with the template")
	}
}

func TestPathTemplate_Match(t *testing.T) {
	tests := []struct {
		template, path string
		want           map[string]string // nil: no match; empty: match without variables
	}{
		{"/", "/", map[string]string{}},
		{"/", "", nil},
		{"/", "//", nil},
		{"/", "/a", nil},
		{"/a", "/", nil},
		{"/{x}", "/", nil},
		{"/{x}", "//", nil},
		{"/{x}", "/a", map[string]string{"x": "a"}},
		{"/a/b", "/a/b", map[string]string{}},
		{"/a/b", "a/b", nil},
		{"/a/b", "/a/b/", nil}, // trailing slash: one more, empty, segment
		{"/a/b", "/a", nil},
		{"/a/b", "/a/b/c", nil},
		{"/a/b", "/a/B", nil},
		{"/a/{var}", "/a/b", map[string]string{"var": "b"}},
		{"/a/{var}", "/a/apple", map[string]string{"var": "apple"}},
		{"/a/{var}", "/a", nil},
		{"/a/{var}", "/a/", nil},
		{"/a/{var}", "/a/b/", nil},
		{"/a/{var}", "/a/b/c", nil},
		{"/a/{var}", "//b", nil},
		{"/chat/{room}", "/chat/%EB%B0%A9", map[string]string{"room": "방"}},
		{"/chat/{room}", "/chat/%eb%b0%a9", map[string]string{"room": "방"}},
		{"/chat/{room}", "/chat/방", map[string]string{"room": "방"}},
		{"/chat/{room}", "/chat/a%2Fb", map[string]string{"room": "a/b"}},
		{"/chat/{room}", "/chat/a%20b+c", map[string]string{"room": "a b+c"}},
		{"/chat/{room}", "/chat/%2525", map[string]string{"room": "%25"}},
		{"/chat/{room}", "/chat/%zz", nil},
		{"/chat/{room}", "/chat/100%", nil},
		{"/chat/{room}", "/chat/%4", nil},
		{"/chat/{room}", "/chat/.", nil},
		{"/chat/{room}", "/chat/..", nil},
		{"/chat/{room}", "/chat/%2E", nil},
		{"/chat/{room}", "/chat/.%2e", nil},
		{"/chat/{room}", "/chat/...", map[string]string{"room": "..."}},
		{"/chat/{room}", "/chat/%2E%2E%2E", map[string]string{"room": "..."}},
		{"/chat/{room}", "/chat/.a", map[string]string{"room": ".a"}},
		// Literals compare percent-decoded, in both directions.
		{"/chat/방", "/chat/방", map[string]string{}},
		{"/chat/방", "/chat/%EB%B0%A9", map[string]string{}},
		{"/chat/%EB%B0%A9", "/chat/방", map[string]string{}},
		{"/chat/%EB%B0%A9", "/chat/%eb%b0%a9", map[string]string{}},
		{"/chat/방", "/chat/%EB%B0", nil},
		{"/a%2Fb", "/a%2fb", map[string]string{}},
		{"/a%2Fb", "/a/b", nil},
		{"/a/b", "/a%2Fb", nil},
		{"/{a}/{b}/{c}", "/1/2/3", map[string]string{"a": "1", "b": "2", "c": "3"}},
		{"/{a}/{b}/{c}", "/1/2", nil},
		{"/{a}/{b}/{c}", "/1/2/3/4", nil},
		{"/{a}/{b}/{c}", "/1//3", nil},
	}
	for _, tt := range tests {
		t.Run(tt.template+" "+tt.path, func(t *testing.T) {
			p := mustParse(t, tt.template)
			got, ok := p.Match(tt.path)
			if ok != (tt.want != nil) {
				t.Fatalf("Match(%q) ok = %v, want %v (params %q)", tt.path, ok, !ok, got)
			}
			if !ok {
				if got != nil {
					t.Errorf("params %q without a match", got)
				}
				return
			}
			if p.IsExact() && got != nil {
				t.Errorf("params = %q for an exact path, want nil", got)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("params = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPathTemplate_Equivalent(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"/", "/", true},
		{"/a/{x}", "/a/{y}", true},
		{"/{x}/{y}", "/{y}/{x}", true},
		{"/방/{x}", "/%EB%B0%A9/{y}", true},
		{"/a%41", "/aA", true},
		{"/a", "/A", false},
		{"/a/{x}", "/a/b", false},
		{"/a/{x}", "/{x}/a", false},
		{"/a/{x}", "/a/{x}/{y}", false},
		{"/", "/{x}", false},
		{"/a%2Fb", "/a/b", false},
	}
	for _, tt := range tests {
		a, b := mustParse(t, tt.a), mustParse(t, tt.b)
		if got := a.Equivalent(b); got != tt.want {
			t.Errorf("%q.Equivalent(%q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := b.Equivalent(a); got != tt.want {
			t.Errorf("%q.Equivalent(%q) = %v, want %v", tt.b, tt.a, got, tt.want)
		}
	}
	if mustParse(t, "/").Equivalent(nil) {
		t.Error("equivalent to nil")
	}
}

// A precedenceCase is a set of templates and the request paths to try on
// it; it is shared by the tests and the benchmark.
type precedenceCase struct {
	label     string
	templates []string
	paths     []pathWant
}

type pathWant struct {
	path     string
	template string // "" for no match
	params   map[string]string
}

var precedenceCases = []precedenceCase{
	{
		label:     "non-ASCII literal beats variable",
		templates: []string{"/{a}/방", "/{a}/{b}"},
		paths: []pathWant{
			{"/x/방", "/{a}/방", map[string]string{"a": "x"}},
			{"/x/%EB%B0%A9", "/{a}/방", map[string]string{"a": "x"}},
			{"/x/y", "/{a}/{b}", map[string]string{"a": "x", "b": "y"}},
			{"/%EB%B0%A9/%EB%B0%A9", "/{a}/방", map[string]string{"a": "방"}},
			{"/x", "", nil},
		},
	},
	{
		// Literals that sort after '{' (Tomcat) or before '*' (Jetty).
		label:     "unusual ASCII literals beat variables",
		templates: []string{"/{a}/~x", "/{a}/!x", "/{a}/$", "/{a}/{b}"},
		paths: []pathWant{
			{"/q/~x", "/{a}/~x", map[string]string{"a": "q"}},
			{"/q/!x", "/{a}/!x", map[string]string{"a": "q"}},
			{"/q/$", "/{a}/$", map[string]string{"a": "q"}},
			{"/q/%24", "/{a}/$", map[string]string{"a": "q"}},
			{"/q/x", "/{a}/{b}", map[string]string{"a": "q", "b": "x"}},
		},
	},
	{
		label:     "only full matches compete",
		templates: []string{"/a/b/c", "/{x}/b/d"},
		paths: []pathWant{
			{"/a/b/d", "/{x}/b/d", map[string]string{"x": "a"}},
			{"/a/b/c", "/a/b/c", nil},
			{"/z/b/c", "", nil},
			{"/a/b", "", nil},
		},
	},
	{
		label:     "leftmost literal wins",
		templates: []string{"/{a}/b", "/a/{b}"},
		paths: []pathWant{
			{"/a/b", "/a/{b}", map[string]string{"b": "b"}},
			{"/c/b", "/{a}/b", map[string]string{"a": "c"}},
			{"/a/c", "/a/{b}", map[string]string{"b": "c"}},
			{"/c/c", "", nil},
		},
	},
	{
		label:     "spec example 3",
		templates: []string{"/a/{var}/c", "/a/b/c", "/a/{var1}/{var2}"},
		paths: []pathWant{
			{"/a/b/c", "/a/b/c", nil},
			{"/a/d/c", "/a/{var}/c", map[string]string{"var": "d"}},
			{"/a/x/y", "/a/{var1}/{var2}", map[string]string{"var1": "x", "var2": "y"}},
			{"/a/x/y/", "", nil},
			{"/b/x/y", "", nil},
		},
	},
	{
		label:     "spec example 4",
		templates: []string{"/{var1}/d", "/b/{var2}"},
		paths: []pathWant{
			{"/b/d", "/b/{var2}", map[string]string{"var2": "d"}},
			{"/c/d", "/{var1}/d", map[string]string{"var1": "c"}},
		},
	},
	{
		label:     "exact path beats template",
		templates: []string{"/a/b", "/a/{customer-name}", "/{x}/{y}"},
		paths: []pathWant{
			{"/a/b", "/a/b", nil},
			{"/a/%62", "/a/b", nil},
			{"/a/c", "/a/{customer-name}", map[string]string{"customer-name": "c"}},
			{"/b/b", "/{x}/{y}", map[string]string{"x": "b", "y": "b"}},
		},
	},
	{
		label:     "literal position, not variable count",
		templates: []string{"/{a}/{b}/{c}/x", "/{a}/{b}/y/{d}", "/{a}/z/{c}/{d}", "/{a}/{b}/{c}/{d}"},
		paths: []pathWant{
			{"/1/2/y/x", "/{a}/{b}/y/{d}", map[string]string{"a": "1", "b": "2", "d": "x"}},
			{"/1/z/y/x", "/{a}/z/{c}/{d}", map[string]string{"a": "1", "c": "y", "d": "x"}},
			{"/1/2/3/x", "/{a}/{b}/{c}/x", map[string]string{"a": "1", "b": "2", "c": "3"}},
			{"/1/2/3/4", "/{a}/{b}/{c}/{d}", map[string]string{"a": "1", "b": "2", "c": "3", "d": "4"}},
		},
	},
	{
		label:     "backtracking past a literal",
		templates: []string{"/a/b/c/d", "/a/{x}/c/e", "/{y}/b/c/e", "/a/b/{z}/f"},
		paths: []pathWant{
			{"/a/b/c/e", "/a/{x}/c/e", map[string]string{"x": "b"}},
			{"/q/b/c/e", "/{y}/b/c/e", map[string]string{"y": "q"}},
			{"/a/b/q/f", "/a/b/{z}/f", map[string]string{"z": "q"}},
			{"/a/b/c/f", "/a/b/{z}/f", map[string]string{"z": "c"}},
			{"/a/b/c/d", "/a/b/c/d", nil},
			{"/a/b/c/g", "", nil},
		},
	},
	{
		label:     "segment counts never mix",
		templates: []string{"/", "/{a}", "/{a}/{b}", "/{a}/{b}/{c}"},
		paths: []pathWant{
			{"/", "/", nil},
			{"/1", "/{a}", map[string]string{"a": "1"}},
			{"/1/2", "/{a}/{b}", map[string]string{"a": "1", "b": "2"}},
			{"/1/2/3", "/{a}/{b}/{c}", map[string]string{"a": "1", "b": "2", "c": "3"}},
			{"/1/2/3/4", "", nil},
			{"", "", nil},
			{"1/2", "", nil},
		},
	},
	{
		label:     "trailing slash",
		templates: []string{"/a", "/a/{x}", "/{x}"},
		paths: []pathWant{
			{"/a", "/a", nil},
			{"/a/", "", nil},
			{"/a/b/", "", nil},
			{"/b/", "", nil},
			{"//", "", nil},
		},
	},
	{
		label:     "percent-encoded values",
		templates: []string{"/chat/{room}", "/chat/lobby"},
		paths: []pathWant{
			{"/chat/%EB%B0%A9", "/chat/{room}", map[string]string{"room": "방"}},
			{"/chat/lobby", "/chat/lobby", nil},
			{"/chat/%6Cobby", "/chat/lobby", nil},
			{"/chat/a%2Fb", "/chat/{room}", map[string]string{"room": "a/b"}},
			{"/chat/%zz", "", nil},
			{"/chat/..", "", nil},
		},
	},
}

func newSet(tb testing.TB, templates []string) *endpoint.TemplateSet[string] {
	tb.Helper()
	var s endpoint.TemplateSet[string]
	for _, tmpl := range templates {
		if err := s.Add(mustParse(tb, tmpl), tmpl); err != nil {
			tb.Fatal(err)
		}
	}
	return &s
}

func checkMatch(t *testing.T, s *endpoint.TemplateSet[string], w pathWant, order []string) {
	t.Helper()
	v, params, ok := s.Match(w.path)
	if ok != (w.template != "") || v != w.template || !maps.Equal(params, w.params) {
		t.Errorf("added %q: Match(%q) = %q, %q, %v; want %q, %q, %v",
			order, w.path, v, params, ok, w.template, w.params, w.template != "")
	}
	if w.params == nil && params != nil {
		t.Errorf("added %q: Match(%q) params = %#v, want nil", order, w.path, params)
	}
}

func TestTemplateSet_Match(t *testing.T) {
	for _, tc := range precedenceCases {
		t.Run(tc.label, func(t *testing.T) {
			s := newSet(t, tc.templates)
			if s.Len() != len(tc.templates) {
				t.Errorf("Len() = %d, want %d", s.Len(), len(tc.templates))
			}
			for _, w := range tc.paths {
				checkMatch(t, s, w, tc.templates)
				// The template alone agrees, and so does the
				// brute-force oracle.
				if w.template != "" {
					params, ok := mustParse(t, w.template).Match(w.path)
					if !ok || !maps.Equal(params, w.params) {
						t.Errorf("%q alone: Match(%q) = %q, %v", w.template, w.path, params, ok)
					}
				}
				if got := oracle(t, parseAll(t, tc.templates), w.path); got != w.template {
					t.Errorf("oracle: %q, want %q", got, w.template)
				}
			}
		})
	}
}

func TestTemplateSet_Match_insertionOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range precedenceCases {
		t.Run(tc.label, func(t *testing.T) {
			order := slices.Clone(tc.templates)
			for range 50 {
				rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
				s := newSet(t, order)
				for _, w := range tc.paths {
					checkMatch(t, s, w, order)
				}
			}
		})
	}
}

func TestTemplateSet_zero(t *testing.T) {
	var s endpoint.TemplateSet[int]
	for _, p := range []string{"", "/", "/a", "/a/%zz"} {
		if v, params, ok := s.Match(p); ok || v != 0 || params != nil {
			t.Errorf("empty set: Match(%q) = %v, %v, %v", p, v, params, ok)
		}
	}
	if s.Len() != 0 {
		t.Errorf("Len() = %d", s.Len())
	}
}

func TestTemplateSet_Add_conflicts(t *testing.T) {
	tests := []struct {
		first, second, reason string
	}{
		{"/a/{x}", "/a/{y}", `equivalent to "/a/{x}", already added (variable names do not count)`},
		{"/a/{x}", "/a/{x}", "added twice"},
		{"/{x}/{y}", "/{y}/{x}", `equivalent to "/{x}/{y}"`},
		{"/a/b", "/a/b", "added twice"},
		{"/방", "/%EB%B0%A9", `same path as "/방", already added`},
		{"/%EB%B0%A9/{a}", "/방/{b}", `equivalent to "/%EB%B0%A9/{a}"`},
		{"/", "/", "added twice"},
	}
	for _, tt := range tests {
		t.Run(tt.first+" "+tt.second, func(t *testing.T) {
			var s endpoint.TemplateSet[int]
			first, second := mustParse(t, tt.first), mustParse(t, tt.second)
			if err := s.Add(first, 1); err != nil {
				t.Fatal(err)
			}
			err := s.Add(second, 2)
			if err == nil {
				t.Fatalf("Add(%q) after %q succeeded", tt.second, tt.first)
			}
			want := fmt.Sprintf("endpoint: path template %q: %s", tt.second, tt.reason)
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want %q", err, want)
			}
			var te *endpoint.TemplateError
			if !errors.As(err, &te) || te.Template != tt.second || te.Conflict != tt.first {
				t.Errorf("error %#v, want Template %q, Conflict %q", err, tt.second, tt.first)
			}
			// The set is as it was.
			if s.Len() != 1 {
				t.Errorf("Len() = %d after a refused Add", s.Len())
			}
			path := strings.NewReplacer("{x}", "p", "{y}", "q", "{a}", "p", "{b}", "q").Replace(tt.first)
			if v, _, ok := s.Match(path); !ok || v != 1 {
				t.Errorf("Match(%q) = %v, %v, want the first template", path, v, ok)
			}
		})
	}
	var s endpoint.TemplateSet[int]
	if err := s.Add(nil, 0); err == nil {
		t.Error("Add(nil) succeeded")
	}
	// Templates that only look alike are fine together.
	for _, tmpl := range []string{"/a/{x}", "/a/b", "/{x}/a", "/a/{x}/{y}", "/A/{x}", "/a%2Fb", "/a/방"} {
		if err := s.Add(mustParse(t, tmpl), 0); err != nil {
			t.Error(err)
		}
	}
}

func parseAll(tb testing.TB, templates []string) []*endpoint.PathTemplate {
	tb.Helper()
	ts := make([]*endpoint.PathTemplate, len(templates))
	for i, s := range templates {
		ts[i] = mustParse(tb, s)
	}
	return ts
}

// kinds returns a template's segment kinds, false for a literal and true
// for a variable.
func kinds(t *endpoint.PathTemplate) []bool {
	s := t.String()
	if s == "/" {
		return nil
	}
	var k []bool
	for seg := range strings.SplitSeq(s[1:], "/") {
		k = append(k, strings.HasPrefix(seg, "{"))
	}
	return k
}

// oracle is the precedence rule written as plainly as possible: of the
// templates that match path, the one whose kinds are least, left to right,
// with a literal before a variable. It fails the test on a tie.
func oracle(tb testing.TB, ts []*endpoint.PathTemplate, path string) string {
	tb.Helper()
	var best *endpoint.PathTemplate
	for _, t := range ts {
		if _, ok := t.Match(path); !ok {
			continue
		}
		if best == nil {
			best = t
			continue
		}
		c := slices.CompareFunc(kinds(t), kinds(best), func(a, b bool) int {
			switch {
			case a == b:
				return 0
			case !a:
				return -1
			}
			return 1
		})
		switch {
		case c == 0:
			tb.Fatalf("%q and %q both match %q with the same shape", t, best, path)
		case c < 0:
			best = t
		}
	}
	if best == nil {
		return ""
	}
	return best.String()
}

// TestTemplateSet_oracle checks the set's trie against the oracle on random
// templates and paths.
func TestTemplateSet_oracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	tmplSegs := []string{"a", "b", "방", "%EB%B0%A9", "{v}", "{v}", "{v}"}
	pathSegs := []string{"a", "b", "c", "방", "%EB%B0%A9", "%eb%b0%a9", "%61", "", "..", "%zz", "a%2Fb"}
	for round := range 300 {
		var s endpoint.TemplateSet[string]
		var added []*endpoint.PathTemplate
		for range 1 + rng.IntN(25) {
			var b strings.Builder
			n := rng.IntN(4)
			if n == 0 {
				b.WriteString("/")
			}
			for i := range n {
				seg := tmplSegs[rng.IntN(len(tmplSegs))]
				seg = strings.Replace(seg, "v", fmt.Sprint("v", i), 1)
				b.WriteString("/" + seg)
			}
			tmpl := mustParse(t, b.String())
			err := s.Add(tmpl, tmpl.String())
			conflict := slices.ContainsFunc(added, tmpl.Equivalent)
			if (err != nil) != conflict {
				t.Fatalf("round %d: Add(%q) = %v, conflict with %q = %v", round, tmpl, err, added, conflict)
			}
			if err == nil {
				added = append(added, tmpl)
			}
		}
		for range 50 {
			var b strings.Builder
			n := rng.IntN(5)
			if n == 0 {
				b.WriteString("/")
			}
			for range n {
				b.WriteString("/" + pathSegs[rng.IntN(len(pathSegs))])
			}
			path := b.String()
			want := oracle(t, added, path)
			v, params, ok := s.Match(path)
			if v != want || ok != (want != "") {
				t.Fatalf("round %d: templates %q: Match(%q) = %q, %v; oracle %q", round, added, path, v, ok, want)
			}
			if ok {
				wantParams, _ := mustParse(t, want).Match(path)
				if !maps.Equal(params, wantParams) {
					t.Fatalf("Match(%q) params %q, template alone %q", path, params, wantParams)
				}
			}
		}
	}
}

// benchSet is a web context's worth of endpoints.
func benchSet(tb testing.TB) *endpoint.TemplateSet[string] {
	tb.Helper()
	templates := []string{"/", "/echo", "/chat/lobby", "/chat/{room}", "/chat/{room}/{user}",
		"/bookings/{guest-id}", "/rewards/{vip-level}", "/{a}/방", "/{a}/{b}", "/a/b/c", "/{x}/b/d"}
	for i := range 20 {
		templates = append(templates, fmt.Sprintf("/svc%d/{id}/events", i), fmt.Sprintf("/svc%d/status", i))
	}
	return newSet(tb, templates)
}

var benchPaths = []struct{ label, path string }{
	{"exact", "/chat/lobby"},
	{"exact-deep", "/a/b/c"},
	{"template", "/chat/general"},
	{"template-3", "/svc17/42/events"},
	{"template-backtrack", "/a/b/d"},
	{"percent", "/chat/%EB%B0%A9"},
	{"miss", "/nope/nope/nope/nope"},
}

func BenchmarkTemplateSetMatch(b *testing.B) {
	s := benchSet(b)
	for _, bp := range benchPaths {
		b.Run(bp.label, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := s.Match(bp.path); ok != (bp.label != "miss") {
					b.Fatal(bp.path, ok)
				}
			}
		})
	}
}

// TestTemplateSet_MatchAllocs holds the lookups that need no params map at
// zero allocations.
func TestTemplateSet_MatchAllocs(t *testing.T) {
	s := benchSet(t)
	for _, path := range []string{"/chat/lobby", "/a/b/c", "/", "/nope/nope/nope/nope", "/chat/x/y/z", ""} {
		if n := testing.AllocsPerRun(100, func() { s.Match(path) }); n != 0 {
			t.Errorf("Match(%q): %v allocations, want 0", path, n)
		}
	}
}

func FuzzPathTemplate(f *testing.F) {
	for _, seed := range []struct{ tmpl, vals, path string }{
		{"/", "", "/"},
		{"/chat/{room}", "방", "/chat/%EB%B0%A9"},
		{"/{a}/방", "x", "/x/방"},
		{"/{a}/{b}", "x,y", "/x/y"},
		{"/a/b/c", "", "/a/b/c"},
		{"/{x}/b/d", "a", "/a/b/d"},
		{"/bookings/{guest-id}/{user.id}", "a/b,..", "/bookings/a%2Fb/%2E%2E"},
		{"/%EB%B0%A9/{v}", ",", "/방/"},
		{"/a/{}", "", "/a/"},
		{"/a//b", "", "//"},
		{"/a/{b}{c}", "", "/a/%zz"},
	} {
		f.Add(seed.tmpl, seed.vals, seed.path)
	}
	f.Fuzz(func(t *testing.T, tmpl, vals, path string) {
		p, err := endpoint.ParseTemplate(tmpl)
		if err != nil {
			var te *endpoint.TemplateError
			if !errors.As(err, &te) || te.Template != tmpl || !strings.HasPrefix(err.Error(), "endpoint: path template ") {
				t.Fatalf("ParseTemplate(%q): error %#v", tmpl, err)
			}
			return
		}
		if p.String() != tmpl {
			t.Fatalf("String() = %q, want %q", p.String(), tmpl)
		}
		if len(p.Vars()) == 0 != p.IsExact() || !p.Equivalent(p) {
			t.Fatalf("%q: Vars %q, IsExact %v", tmpl, p.Vars(), p.IsExact())
		}
		var s endpoint.TemplateSet[int]
		if err := s.Add(p, 1); err != nil {
			t.Fatal(err)
		}
		if err := s.Add(p, 2); err == nil {
			t.Fatalf("%q added twice", tmpl)
		}

		// An arbitrary path: the template and the set agree.
		params, ok := p.Match(path)
		v, setParams, setOK := s.Match(path)
		if ok != setOK || ok && v != 1 || !maps.Equal(params, setParams) {
			t.Fatalf("%q: Match(%q) = %q, %v; set %q, %v", tmpl, path, params, ok, setParams, setOK)
		}
		if ok && len(params) != len(p.Vars()) {
			t.Fatalf("%q: Match(%q) = %q", tmpl, path, params)
		}

		// An expansion of the template, with literals as written and
		// again re-escaped, matches with the values put in.
		values := strings.Split(vals, ",")
		want := map[string]string{}
		valid := true
		var written, reescaped strings.Builder
		if p.Segments() == 0 {
			written.WriteString("/")
			reescaped.WriteString("/")
		}
		vi := 0
		for _, seg := range strings.Split(tmpl, "/")[1:] {
			if seg == "" { // the root path
				break
			}
			written.WriteString("/")
			reescaped.WriteString("/")
			if strings.HasPrefix(seg, "{") {
				val := values[vi%len(values)]
				vi++
				want[seg[1:len(seg)-1]] = val
				valid = valid && val != "" && val != "." && val != ".."
				written.WriteString(url.PathEscape(val))
				reescaped.WriteString(url.PathEscape(val))
				continue
			}
			lit, err := url.PathUnescape(seg)
			if err != nil {
				t.Fatalf("%q: literal %q: %v", tmpl, seg, err)
			}
			written.WriteString(seg)
			reescaped.WriteString(url.PathEscape(lit))
		}
		if p.IsExact() {
			want = nil
		}
		for _, path := range []string{written.String(), reescaped.String()} {
			params, ok := p.Match(path)
			if ok != valid || ok && !maps.Equal(params, want) {
				t.Fatalf("%q: Match(%q) = %q, %v; want %q, %v", tmpl, path, params, ok, want, valid)
			}
			v, setParams, setOK := s.Match(path)
			if setOK != valid || setOK && (v != 1 || !maps.Equal(setParams, want)) {
				t.Fatalf("%q: set Match(%q) = %q, %v; want %q, %v", tmpl, path, setParams, setOK, want, valid)
			}
		}
	})
}

func ExampleTemplateSet() {
	var set endpoint.TemplateSet[string]
	for _, path := range []string{"/chat/lobby", "/chat/{room}", "/{a}/방", "/{a}/{b}"} {
		t, err := endpoint.ParseTemplate(path)
		if err != nil {
			panic(err)
		}
		if err := set.Add(t, path); err != nil {
			panic(err)
		}
	}
	for _, path := range []string{"/chat/lobby", "/chat/%EB%B0%A9", "/x/%EB%B0%A9", "/x/y", "/chat/"} {
		v, params, ok := set.Match(path)
		fmt.Println(path, "→", v, params, ok)
	}
	t, _ := endpoint.ParseTemplate("/chat/{name}")
	fmt.Println(set.Add(t, "again"))
	// Output:
	// /chat/lobby → /chat/lobby map[] true
	// /chat/%EB%B0%A9 → /chat/{room} map[room:방] true
	// /x/%EB%B0%A9 → /{a}/방 map[a:x] true
	// /x/y → /{a}/{b} map[a:x b:y] true
	// /chat/ →  map[] false
	// endpoint: path template "/chat/{name}": equivalent to "/chat/{room}", already added (variable names do not count)
}
