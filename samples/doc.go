// Package samples is the bundled "samples" web application: the endpoints
// and pages that `wsc` serves at /samples and that the tests and benchmarks
// use. It imports only the endpoint API, as any deployable module must, and
// registers itself as the module "samples".
//
//	/samples/echo      echoes every message whole (16 MiB, deflate, any origin)
//	/samples/echo-inline the same echo, run on the event loop (ServerConfig.Inline)
//	/samples/broadcast relays every message to every session on it, encoded once
//	/samples/counter   the failover demo: "incr" counts in the session's user properties
//	/samples/secure    needs ?token=<JWT>: checked in the handshake, 401 otherwise
//	/samples/chat/{room}, /samples/chat.html, POST /samples/chat/{room}/messages: the chat
//	/samples/          the counter's page; it creates the HTTP session
package samples

import (
	"crypto/rand"
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/samples/broadcast"
	"github.com/wsc-dev/wsc/samples/chat"
	"github.com/wsc-dev/wsc/samples/counter"
	"github.com/wsc-dev/wsc/samples/echo"
	"github.com/wsc-dev/wsc/samples/secure"
)

// ContextPath is where the samples are deployed by default.
const ContextPath = "/samples"

// ModuleName is the name the samples module is registered under.
const ModuleName = "samples"

//go:embed webapp
var webapp embed.FS

// SecretParam is the init-param holding the secure sample's signing key.
const SecretParam = "secure-secret"

// Endpoints returns the sample endpoints, at paths relative to the context;
// secret signs the secure sample's tokens.
func Endpoints(secret []byte) []*endpoint.ServerConfig {
	app, err := App(secret)
	if err != nil {
		panic(err) // the samples' own endpoints are valid; a test holds it
	}
	return app.Endpoints
}

// App returns the samples application: its endpoints and its pages, the
// chat's endpoint and HTTP publisher sharing one room registry.
func App(secret []byte) (*endpoint.Application, error) {
	rooms := chat.NewRooms()
	chatConfig, err := chat.Config(rooms)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST /chat/{room}/messages", chat.PublishHandler(rooms))
	mux.Handle("/", Handler())
	return &endpoint.Application{
		Endpoints: []*endpoint.ServerConfig{echo.Config(), echo.InlineConfig(), broadcast.Config(), counter.Config(), secure.Config(secret), chatConfig},
		Handler:   mux,
	}, nil
}

// Module is the samples module.
type Module struct{}

// Deploy implements endpoint.Module. Without the init-param SecretParam
// the secure sample signs with a random key of this process: it then
// accepts no token made elsewhere.
func (Module) Deploy(params endpoint.InitParams) (*endpoint.Application, error) {
	secret := []byte(params.Get(SecretParam, ""))
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
	}
	return App(secret)
}

// Handler serves the samples' pages from the embedded webapp folder (never
// its WEB-INF). The index page creates the HTTP session the counter's user
// properties belong to.
func Handler() http.Handler {
	root, _ := fs.Sub(webapp, "webapp")
	files := http.FileServerFS(root)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		if strings.HasPrefix(strings.ToUpper(p), "/WEB-INF") {
			http.NotFound(w, r)
			return
		}
		if p == "/" || p == "/index.html" {
			endpoint.GetHTTPSession(r, true)
		}
		files.ServeHTTP(w, r)
	})
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
