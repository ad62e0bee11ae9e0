package container

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/wsc-dev/wsc/endpoint"
)

// TestPartialHandlers: partial handlers get messages as their frames
// arrive, beyond the message limit, with text parts cut at code points.
func TestPartialHandlers(t *testing.T) {
	type part struct {
		text string
		bin  int
		last bool
	}
	parts := make(chan part, 1024)
	_, addr := startServer(t, echoSettings(), &endpoint.ServerConfig{Path: "/parts", New: func() endpoint.Endpoint {
		return openFunc(func(s endpoint.Session) {
			s.SetPartialTextHandler(func(p string, last bool) { parts <- part{text: p, last: last} })
			s.SetPartialBinaryHandler(func(p []byte, last bool) { parts <- part{bin: len(p), last: last} })
		})
	}})
	conn := dial(t, addr, "/t/parts")

	// 1 MiB of Korean text (3-byte code points) in 4 fragments cut inside
	// code points; the context's limit is 8 KiB.
	text := strings.Repeat("가나다", 1<<20/9+1)
	cuts := []int{100_001, 500_002, 900_000, len(text)}
	prev := 0
	for i, c := range cuts {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpText
		}
		f := ws.NewFrame(op, i == len(cuts)-1, []byte(text[prev:c]))
		if err := ws.WriteFrame(conn, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
		prev = c
	}
	var got strings.Builder
	n := 0
	for {
		p := <-parts
		n++
		if !utf8.ValidString(p.text) {
			t.Fatalf("part %d is not valid UTF-8", n)
		}
		got.WriteString(p.text)
		if p.last {
			break
		}
	}
	if got.String() != text || n < len(cuts) {
		t.Fatalf("reassembled %d bytes in %d parts, want %d bytes in ≥ %d", got.Len(), n, len(text), len(cuts))
	}

	// One 300 KiB binary frame arrives in several parts.
	if err := ws.WriteFrame(conn, ws.MaskFrame(ws.NewBinaryFrame(bytes.Repeat([]byte{7}, 300<<10)))); err != nil {
		t.Fatal(err)
	}
	total, n := 0, 0
	for {
		p := <-parts
		total += p.bin
		n++
		if p.last {
			break
		}
	}
	if total != 300<<10 || n < 2 {
		t.Fatalf("binary: %d bytes in %d parts", total, n)
	}
}
