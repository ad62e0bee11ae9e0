package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheck: `wsc check` on the seed's example passes and reports the
// values it resolved; a bad file fails with every problem listed.
func TestCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	seed := filepath.Join("..", "..", "descriptor", "testdata", "valid", "seed.xml")
	if code := check([]string{seed}, &out, &errOut); code != 0 {
		t.Fatalf("seed example: exit %d\n%s", code, errOut.String())
	}
	for _, want := range []string{"ok", "batching-buffer-size", "655536", "websocket-executor/max"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("resolved output lacks %q:\n%s", want, out.String())
		}
	}

	bad := filepath.Join(t.TempDir(), "bad.xml")
	_ = os.WriteFile(bad, []byte(`<jeus-web-dd><websocket>
<max-session-idle-timeout-in-millis>soon</max-session-idle-timeout-in-millis>
<websocket-executor><min>5</min><max>2</max></websocket-executor>
</websocket></jeus-web-dd>`), 0o644)
	out.Reset()
	errOut.Reset()
	if code := check([]string{seed, bad}, &out, &errOut); code != 1 {
		t.Fatalf("bad file: exit %d", code)
	}
	for _, want := range []string{"bad.xml:2:", "max-session-idle-timeout-in-millis", "bad.xml:3:", "min 5 is greater than max 2"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("errors lack %q:\n%s", want, errOut.String())
		}
	}
	if code := check(nil, &out, &errOut); code != 2 {
		t.Fatalf("no files: exit %d, want 2", code)
	}
}
