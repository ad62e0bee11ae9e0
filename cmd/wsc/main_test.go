package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
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

// -cluster refuses to start without a usable key, and says why.
func TestStartClusterKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, c := range []struct{ file, want string }{
		{"", "needs -cluster-key"},
		{filepath.Join(dir, "absent"), "no such file"},
		{write("text", "not base64!\n"), "not base64"},
		{write("short", base64.StdEncoding.EncodeToString([]byte("0123456789"))), "16, 24 or 32 bytes"},
	} {
		if _, err := startCluster("127.0.0.1:0", "", c.file, "n1", 1, quiet); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("key file %q: %v, want an error with %q", c.file, err, c.want)
		}
	}
	good := write("good", base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))+"\n")
	if _, err := startCluster("127.0.0.1:0", "", good, "n1", 0, quiet); err == nil || !strings.Contains(err.Error(), "-backups") {
		t.Errorf("-backups 0: %v", err)
	}
	n, err := startCluster("127.0.0.1:0", "", good, "n1", 1, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
