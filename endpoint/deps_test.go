package endpoint_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The import rules of DESIGN.md §2, as go/build's deps_test does for the
// standard library. Do not loosen them to make a build pass: move the code.
var forbidden = map[string][]string{
	// Endpoint authors must never pull the runtime, the cluster library or
	// the descriptor parser into their build.
	"./endpoint/...": {"github.com/panjf2000/gnet", "github.com/gobwas/", "github.com/hashicorp/memberlist", "github.com/beevik/etree", "github.com/wsc-dev/wsc/container"},
	// The replicated store knows memberlist, not the runtime.
	"./failover/...": {"github.com/panjf2000/gnet", "github.com/gobwas/", "github.com/beevik/etree", "github.com/wsc-dev/wsc/container", "github.com/wsc-dev/wsc/endpoint"},
	// Deployable modules see only the endpoint API.
	"./samples/...": {"github.com/panjf2000/gnet", "github.com/gobwas/", "github.com/hashicorp/memberlist", "github.com/beevik/etree", "github.com/wsc-dev/wsc/container"},
}

func TestImportRules(t *testing.T) {
	for pkgs, bad := range forbidden {
		out, err := exec.Command("go", "list", "-C", "..", "-deps", "-test=false", pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkgs, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 5 {
			t.Fatalf("go list %s listed only %v", pkgs, deps)
		}
		for _, dep := range deps {
			for _, b := range bad {
				if strings.HasPrefix(dep, b) {
					t.Errorf("%s depends on %s", pkgs, dep)
				}
			}
		}
	}
}
