package endpoint

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
)

// Module is the Go code of a web application: what a WAR's classes are to
// a Java web server. A module registers itself by name (usually in an init
// function, as database/sql drivers do), and the container deploys it into
// one or more web contexts; the binary is built with the modules it serves.
type Module interface {
	// Deploy returns the application of one web context, given the
	// context's init-params from its descriptor. It is called once per
	// context, at deploy time, before the container starts; an error fails
	// that context's deployment.
	Deploy(params InitParams) (*Application, error)
}

// Application is what a module deploys into a web context.
type Application struct {
	// Endpoints are the WebSocket endpoints, at paths relative to the
	// context path.
	Endpoints []*ServerConfig
	// Handler serves the context's plain HTTP requests (pages, REST), with
	// the context path stripped from the URL path. It runs on the context's
	// executor. Nil serves only the context's static files, if any.
	Handler http.Handler
}

// InitParams are a context's init-params (the <init-param> elements of its
// descriptor), by name.
type InitParams map[string]string

// Get returns the value of name, or def when it is not set.
func (p InitParams) Get(name, def string) string {
	if v, ok := p[name]; ok {
		return v
	}
	return def
}

// DescriptorProvider is implemented by modules that carry a default
// descriptor (jeus-web-dd.xml bytes), used when the module is deployed
// without one of its own.
type DescriptorProvider interface {
	DefaultDescriptor() []byte
}

var (
	modulesMu sync.RWMutex
	modules   = map[string]Module{}
)

// RegisterModule makes m deployable under name. It panics if name is empty,
// m is nil or the name is taken: both are programming errors found at
// start-up.
func RegisterModule(name string, m Module) {
	if name == "" || m == nil {
		panic("endpoint: RegisterModule with an empty name or a nil module")
	}
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if _, dup := modules[name]; dup {
		panic(fmt.Sprintf("endpoint: module %q registered twice", name))
	}
	modules[name] = m
}

// LookupModule returns the module registered under name.
func LookupModule(name string) (Module, bool) {
	modulesMu.RLock()
	defer modulesMu.RUnlock()
	m, ok := modules[name]
	return m, ok
}

// Modules returns the registered module names, sorted.
func Modules() []string {
	modulesMu.RLock()
	defer modulesMu.RUnlock()
	names := make([]string, 0, len(modules))
	for n := range modules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ModuleFunc adapts a function to Module.
type ModuleFunc func(params InitParams) (*Application, error)

// Deploy implements Module.
func (f ModuleFunc) Deploy(params InitParams) (*Application, error) { return f(params) }
