package integration

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

const chromium = "/usr/bin/chromium"

// TestChatInChromium drives /samples/chat.html in Debian's headless
// Chromium with playwright-core (testdata/browser, installed by `npm ci`
// there; it never downloads a browser): two pages in one room see each
// other's messages and the user count going 1 → 2 → 1.
func TestChatInChromium(t *testing.T) {
	dir := browserDir(t)
	srv := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "chat.js"), "http://"+srv.Addr+"/samples/chat.html")
	cmd.Dir = dir
	cmd.WaitDelay = 5 * time.Second
	killWithParent(cmd)
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("chat in Chromium: %v", err)
	}
}
