package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// clientTimeout bounds one client script run.
const clientTimeout = 60 * time.Second

const installHint = "apt-get install -y python3-websockets node-ws haproxy nginx apache2"

// Debian's interpreters: a python3 earlier on PATH (pyenv) does not see
// Debian's python3-websockets, and node finds node-ws only in NODE_PATH.
const (
	debianPython = "/usr/bin/python3"
	debianNode   = "/usr/share/nodejs"
)

// requireClient checks that a client tool works by running name with args
// (and env added). When it does not, the test fails under CI=true (CI must
// install the tool) and is skipped otherwise.
func requireClient(tb testing.TB, what string, env []string, name string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	probe := exec.CommandContext(ctx, name, args...)
	probe.Env = append(os.Environ(), env...)
	out, err := probe.CombinedOutput()
	if err == nil {
		return
	}
	msg := what + " is not available (" + err.Error() + "): " + string(out) + "\ninstall it with: " + installHint
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// runClient runs a client script against srv's echo URL and fails the test,
// showing the script's output, unless it exits 0.
func runClient(tb testing.TB, srv *server, env []string, name string, args ...string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, append(args, srv.URL)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 5 * time.Second // do not wait forever on a stuck pipe
	killWithParent(cmd)
	out, err := cmd.CombinedOutput()
	switch {
	case ctx.Err() != nil:
		tb.Fatalf("%s %v: killed after %v\n%s", name, args, clientTimeout, out)
	case err != nil:
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	tb.Logf("%s %v:\n%s", name, args, out)
}

// TestPythonClient runs testdata/client.py (Python websockets) against the
// echo endpoint, with and without permessage-deflate.
func TestPythonClient(t *testing.T) {
	requireClient(t, "Python websockets ("+debianPython+")", nil,
		debianPython, "-c", "import websockets; print(websockets.__version__)")
	srv := startServer(t)
	runClient(t, srv, nil, debianPython, filepath.Join("testdata", "client.py"))
}

// TestNodeClient runs testdata/client.js (Node ws) against the echo
// endpoint, with and without permessage-deflate.
func TestNodeClient(t *testing.T) {
	nodePath := debianNode
	if prev := os.Getenv("NODE_PATH"); prev != "" {
		nodePath += string(os.PathListSeparator) + prev
	}
	env := []string{"NODE_PATH=" + nodePath}
	node, err := exec.LookPath("node")
	if err != nil {
		node = "node" // requireClient reports it
	}
	requireClient(t, "Node ws (node with NODE_PATH="+debianNode+")", env,
		node, "-e", "console.log(require('ws/package.json').version)")
	srv := startServer(t)
	runClient(t, srv, env, node, filepath.Join("testdata", "client.js"))
}
