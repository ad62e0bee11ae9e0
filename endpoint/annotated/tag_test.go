package annotated

import (
	"reflect"
	"strings"
	"testing"
)

// tagCases are marker tags and what parseMarkerTag makes of them; they seed
// FuzzTags.
var tagCases = []struct {
	label string
	tag   string
	want  markerTags
	probs []string // substrings, one per expected problem
}{
	{label: "empty", tag: ""},
	{label: "path", tag: `path:"/chat/{room}"`, want: markerTags{path: "/chat/{room}", hasPath: true}},
	{
		label: "all",
		tag:   `path:"/a" subprotocols:" chat.v2 , chat.v1" maxText:"65536"  maxBinary:"0"`,
		want: markerTags{path: "/a", hasPath: true, subprotocols: []string{"chat.v2", "chat.v1"}, hasSubprotocols: true,
			maxText: 65536, hasMaxText: true, hasMaxBinary: true},
	},
	{label: "escaped", tag: `path:"/\u68ee/\"q\""`, want: markerTags{path: "/森/\"q\"", hasPath: true}},
	{label: "max_not_number", tag: `path:"/a" maxText:"64k"`, want: markerTags{path: "/a", hasPath: true},
		probs: []string{`maxText "64k" is not a non-negative decimal integer (bytes)`}},
	{label: "max_negative", tag: `maxBinary:"-1"`, probs: []string{`maxBinary "-1" is not a non-negative`}},
	{label: "unknown_key", tag: `path:"/a" maxtext:"1"`, want: markerTags{path: "/a", hasPath: true},
		probs: []string{`unknown key "maxtext" (want path, subprotocols, maxText or maxBinary)`}},
	{label: "twice", tag: `path:"/a" path:"/b"`, want: markerTags{path: "/a", hasPath: true}, probs: []string{`key "path" given twice`}},
	{label: "no_quotes", tag: `path:/a`, probs: []string{`malformed struct tag at "path:/a"`}},
	{label: "unterminated", tag: `path:"/a`, probs: []string{`unterminated value of key "path"`}},
	{label: "no_space", tag: `path:"/a"maxText:"1"`, want: markerTags{path: "/a", hasPath: true}, probs: []string{"want a space between pairs"}},
	{label: "bad_escape", tag: `path:"\q"`, probs: []string{"is not a Go string"}},
	{label: "bad_token", tag: `subprotocols:"a b,c"`, probs: []string{`subprotocols: "a b" is not a token`}},
	{label: "empty_subprotocol", tag: `subprotocols:"a,,b"`, probs: []string{"subprotocols: empty subprotocol name"}},
	{label: "empty_list", tag: `subprotocols:""`, probs: []string{"subprotocols: empty list"}},
	{label: "dup_subprotocol", tag: `subprotocols:"a,a"`, probs: []string{`subprotocols: "a" listed twice`}},
	{label: "two_problems", tag: `maxText:"x" color:"red"`, probs: []string{`maxText "x"`, `unknown key "color"`}},
}

func TestParseMarkerTag(t *testing.T) {
	for _, tc := range tagCases {
		t.Run(tc.label, func(t *testing.T) {
			got, probs := parseMarkerTag(tc.tag)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseMarkerTag(%q) = %+v, want %+v", tc.tag, got, tc.want)
			}
			if len(probs) != len(tc.probs) {
				t.Fatalf("problems %q, want %d like %q", probs, len(tc.probs), tc.probs)
			}
			for i, p := range probs {
				if !strings.Contains(p, tc.probs[i]) {
					t.Errorf("problem %q, want it to contain %q", p, tc.probs[i])
				}
			}
			if len(probs) == 0 {
				roundTrip(t, tc.tag, got)
			}
		})
	}
}

// roundTrip checks that a parsed tag formats to a tag that parses back to
// the same value, and that reflect reads the formatted tag the same way.
func roundTrip(t *testing.T, tag string, m markerTags) {
	t.Helper()
	s := m.String()
	again, probs := parseMarkerTag(s)
	if len(probs) > 0 || !reflect.DeepEqual(again, m) {
		t.Fatalf("tag %q parsed to %+v, formatted as %q, which parses to %+v, %q", tag, m, s, again, probs)
	}
	st := reflect.StructTag(s)
	if v, ok := st.Lookup(tagPath); ok != m.hasPath || v != m.path {
		t.Fatalf("reflect reads path %q, %v from %q; we read %q, %v", v, ok, s, m.path, m.hasPath)
	}
}

// FuzzTags checks that the tag parser never panics, that a tag it accepts
// formats and parses back to the same value, and that it agrees with
// reflect.StructTag on the path of every tag it accepts.
func FuzzTags(f *testing.F) {
	for _, tc := range tagCases {
		f.Add(tc.tag)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		m, probs := parseMarkerTag(tag)
		if len(probs) > 0 {
			return
		}
		if v, ok := reflect.StructTag(tag).Lookup(tagPath); ok != m.hasPath || v != m.path {
			t.Fatalf("reflect reads path %q, %v from %q; we read %q, %v", v, ok, tag, m.path, m.hasPath)
		}
		roundTrip(t, tag, m)
	})
}
