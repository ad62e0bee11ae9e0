// Package samples is the bundled "samples" web application: the endpoints
// that `wsc` serves at /samples and that the tests and benchmarks use. It
// imports only the endpoint API, as any deployable module must.
package samples

import (
	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/echo"
)

// ContextPath is where the samples are deployed.
const ContextPath = "/samples"

// Endpoints returns the sample endpoints, at paths relative to ContextPath.
func Endpoints() []*endpoint.ServerConfig {
	return []*endpoint.ServerConfig{echo.Config()}
}
