// Package samples is the bundled "samples" web application: the endpoints
// that `wsc` serves at /samples and that the tests and benchmarks use. It
// imports only the endpoint API, as any deployable module must, and
// registers itself as the module "samples".
package samples

import (
	"embed"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

// ContextPath is where the samples are deployed by default.
const ContextPath = "/samples"

// ModuleName is the name the samples module is registered under.
const ModuleName = "samples"

//go:embed webapp
var webapp embed.FS

// Endpoints returns the sample endpoints, at paths relative to the context.
func Endpoints() []*endpoint.ServerConfig {
	return []*endpoint.ServerConfig{echo.Config()}
}

// Module is the samples module.
type Module struct{}

// Deploy implements endpoint.Module.
func (Module) Deploy(endpoint.InitParams) (*endpoint.Application, error) {
	return &endpoint.Application{Endpoints: Endpoints()}, nil
}

// DefaultDescriptor implements endpoint.DescriptorProvider: the embedded
// webapp/WEB-INF/jeus-web-dd.xml.
func (Module) DefaultDescriptor() []byte {
	b, err := webapp.ReadFile("webapp/WEB-INF/jeus-web-dd.xml")
	if err != nil {
		panic("samples: embedded descriptor missing: " + err.Error())
	}
	return b
}

func init() { endpoint.RegisterModule(ModuleName, Module{}) }

var (
	_ endpoint.Module             = Module{}
	_ endpoint.DescriptorProvider = Module{}
)
