package descriptor

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules holds DESIGN.md §2: descriptor imports etree and the
// standard library, never endpoint, container or any other module. Do not
// loosen it to make a build pass: move the code.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test=false",
		"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Skipf("go list: %v\n%s", err, out)
	}
	allowed := map[string]bool{
		"github.com/beevik/etree":           true,
		"github.com/wsc-dev/wsc/descriptor": true,
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list listed nothing")
	}
	for _, dep := range deps {
		if !allowed[dep] {
			t.Errorf("descriptor depends on %s", dep)
		}
	}
}
