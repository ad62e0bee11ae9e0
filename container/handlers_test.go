package container

import (
	"testing"

	"github.com/wsc-dev/wsc/endpoint"
)

// TestHandlerSwitch checks that a message reaches the handler set last, of
// whichever kind: the binary and raw text handlers are mirrored in the
// session's first line (fastBinary, fastText), the others are not.
func TestHandlerSwitch(t *testing.T) {
	s := new(session)
	var got []string
	msg := func(kind eventKind, p string) {
		b := []byte(p)
		s.deliver(&event{kind: kind, buf: &b})
	}
	s.SetRawTextHandler(func(b []byte) { got = append(got, "raw:"+string(b)) })
	s.SetBinaryHandler(func(b []byte) { got = append(got, "bin:"+string(b)) })
	msg(evText, "a")
	msg(evBinary, "b")
	s.SetTextHandler(func(t string) { got = append(got, "text:"+t) })
	msg(evText, "c")
	s.SetRawTextHandler(func(b []byte) { got = append(got, "raw2:"+string(b)) })
	msg(evText, "d")
	s.SetPartialTextHandler(func(p string, last bool) { got = append(got, "part:"+p) })
	msg(evTextPart, "e")
	if s.fastText.load() != nil {
		t.Error("fastText still set after SetPartialTextHandler")
	}
	s.SetPartialBinaryHandler(func(p []byte, last bool) { got = append(got, "pbin:"+string(p)) })
	if s.fastBinary.load() != nil {
		t.Error("fastBinary still set after SetPartialBinaryHandler")
	}
	var h endpoint.BinaryHandler = func(b []byte) { got = append(got, "bin2:"+string(b)) }
	s.SetBinaryHandler(h)
	msg(evBinary, "f")
	want := []string{"raw:a", "bin:b", "text:c", "raw2:d", "part:e", "bin2:f"}
	if len(got) != len(want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delivered %q, want %q", got, want)
		}
	}
}
