package container

import (
	"testing"
	"unicode/utf8"
)

// utf8Cases are texts split into fragments, with whether the whole is valid
// and the index of the first fragment that must be rejected (-1: none
// before the end).
var utf8Cases = []struct {
	label     string
	parts     []string
	valid     bool
	failsAt   int // first fragment feed must reject; -1 if every feed passes
	incomplet bool
}{
	{label: "ascii", parts: []string{"hello", " ", "world"}, valid: true, failsAt: -1},
	{label: "empty", parts: []string{""}, valid: true, failsAt: -1},
	{label: "korean_whole", parts: []string{"안녕하세요"}, valid: true, failsAt: -1},
	{label: "2byte_split", parts: []string{"\xc3", "\xa9"}, valid: true, failsAt: -1},
	{label: "3byte_split_1_2", parts: []string{"\xe2", "\x82\xac"}, valid: true, failsAt: -1},
	{label: "3byte_split_2_1", parts: []string{"\xe2\x82", "\xac"}, valid: true, failsAt: -1},
	{label: "4byte_split_each", parts: []string{"\xf0", "\x9f", "\x98", "\x80"}, valid: true, failsAt: -1},
	{label: "emoji_then_ascii_split", parts: []string{"a\xf0\x9f", "\x98\x80b"}, valid: true, failsAt: -1},
	{label: "lone_continuation", parts: []string{"\x80"}, failsAt: 0},
	{label: "overlong_c0", parts: []string{"\xc0\xaf"}, failsAt: 0},
	{label: "overlong_e0_at_end", parts: []string{"ok\xe0", "\x80\xaf"}, failsAt: 1},
	{label: "surrogate_split", parts: []string{"\xed", "\xa0\x80"}, failsAt: 1},
	{label: "surrogate_prefix_at_end", parts: []string{"a\xed\xa0"}, failsAt: 0},
	{label: "above_10ffff", parts: []string{"\xf4\x90\x80\x80"}, failsAt: 0},
	{label: "f4_90_prefix_at_end", parts: []string{"\xf4\x90"}, failsAt: 0},
	{label: "f5_lead", parts: []string{"\xf5"}, failsAt: 0},
	{label: "bad_in_first_fragment", parts: []string{"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited", "more"}, failsAt: 0},
	{label: "truncated_at_end", parts: []string{"abc\xe2\x82"}, failsAt: -1, incomplet: true},
	{label: "cont_expected_got_ascii", parts: []string{"\xe2", "a"}, failsAt: 1},
}

func TestUTF8Validator(t *testing.T) {
	for _, tc := range utf8Cases {
		t.Run(tc.label, func(t *testing.T) {
			var v utf8Validator
			failed := -1
			for i, p := range tc.parts {
				if !v.feed([]byte(p)) {
					failed = i
					break
				}
			}
			if failed != tc.failsAt {
				t.Fatalf("first rejected fragment = %d, want %d", failed, tc.failsAt)
			}
			if failed < 0 && v.complete() == tc.incomplet {
				t.Fatalf("complete() = %v, want %v", v.complete(), !tc.incomplet)
			}
		})
	}
}

// TestUTF8Validator_everySplit splits valid and invalid texts at every
// position and checks the result agrees with utf8.Valid.
func TestUTF8Validator_everySplit(t *testing.T) {
	texts := []string{"κόσμε", "a€b", "😀😀", "\xed\xa0\x80", "ab\xf4\x90\x80\x80", "\xe0\x80\xaf", "x\xc3"}
	for _, s := range texts {
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				var v utf8Validator
				ok := v.feed([]byte(s[:i])) && v.feed([]byte(s[i:j])) && v.feed([]byte(s[j:])) && v.complete()
				if ok != utf8.ValidString(s) {
					t.Fatalf("%q split at %d,%d: got %v", s, i, j, ok)
				}
			}
		}
	}
}

func BenchmarkUTF8Validator(b *testing.B) {
	text := []byte("WebSocket 컨테이너 — echo ✓ 😀 " + string(make([]byte, 0)))
	for len(text) < 1024 {
		text = append(text, "ascii text and 한국어 "...)
	}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var v utf8Validator
		v.feed(text[:500])
		v.feed(text[500:])
	}
}

// FuzzUTF8Validator feeds a text in three pieces: the validator must agree
// with utf8.Valid on the whole, and must never reject a piece of valid text.
func FuzzUTF8Validator(f *testing.F) {
	for _, tc := range utf8Cases {
		var all string
		for _, p := range tc.parts {
			all += p
		}
		f.Add([]byte(all), uint8(len(all)/3), uint8(2*len(all)/3))
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b uint8) {
		i, j := int(a), int(b)
		if i > len(data) {
			i = len(data)
		}
		if j < i {
			j = i
		}
		if j > len(data) {
			j = len(data)
		}
		var v utf8Validator
		ok1 := v.feed(data[:i])
		ok2 := ok1 && v.feed(data[i:j])
		ok3 := ok2 && v.feed(data[j:])
		valid := utf8.Valid(data)
		if got := ok3 && v.complete(); got != valid {
			t.Fatalf("validator says %v, utf8.Valid says %v (split %d,%d)", got, valid, i, j)
		}
		if valid && !ok3 {
			t.Fatal("rejected a piece of valid text")
		}
	})
}
