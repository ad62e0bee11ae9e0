// Package deploy turns web applications into container web contexts, as a
// Java web server deploys WARs: a registered module (the Go code), its
// descriptor (WEB-INF/jeus-web-dd.xml) and a folder of static files.
//
//	webapps/
//	  chat/                     → context /chat, module "chat"
//	    WEB-INF/jeus-web-dd.xml   its settings (optional)
//	    index.html                served as /chat/index.html
//
// The context path is /<folder> unless the descriptor sets <context-path>;
// the module is the one registered as <folder> unless the descriptor names
// another in <module>. A folder with no module of its name serves only its
// static files. A folder whose descriptor or module is bad is not deployed,
// and the error says why; the others are.
//
// It imports the container, the descriptor parser and the endpoint API;
// only the binary (cmd/wsc) and tests import it.
package deploy

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wsc-dev/wsc/container"
	"github.com/wsc-dev/wsc/descriptor"
	"github.com/wsc-dev/wsc/endpoint"
)

// DescriptorPath is where a web application folder keeps its descriptor.
const DescriptorPath = "WEB-INF/jeus-web-dd.xml"

// Settings converts a descriptor's <websocket> element to container
// settings. Every element maps one to one, except those the container does
// not use yet (see the package's README section on the descriptor).
func Settings(w descriptor.WebSocket) container.Settings {
	s := container.Settings{
		MaxTextMessageBytes:   w.MaxTextMessageBytes,
		MaxBinaryMessageBytes: w.MaxBinaryMessageBytes,
		IdleTimeout:           w.IdleTimeout, // descriptor.Disabled is negative: disabled here too
		MonitoringPeriod:      w.MonitoringPeriod,
		TimeoutThreads:        w.TimeoutMinThreads,
		BlockingSendTimeout:   w.BlockingSendTimeout,
		AsyncSendTimeout:      w.AsyncSendTimeout,
		Executor: container.ExecutorSettings{
			Min:       w.Executor.Min,
			Max:       w.Executor.Max,
			KeepAlive: w.Executor.KeepAlive,
			QueueSize: w.Executor.QueueSize,
		},
		BatchingBufferBytes:       w.BatchingBufferBytes,
		AllowedOrigins:            w.AllowedOrigins,
		TrustedProxies:            w.TrustedProxies,
		PerMessageDeflate:         w.PerMessageDeflate,
		DistributedUserProperties: w.Distributed.Enabled,
		WriteThrough:              w.Distributed.WriteThrough,
		MaxSessions:               w.MaxSessions,
	}
	// Zero means "default" to the container; the descriptor's zeros are
	// meant literally.
	if w.Executor.Min == 0 {
		s.Executor.Min = -1
	}
	if w.Executor.KeepAlive == 0 {
		s.Executor.KeepAlive = 1 // retire extra workers as soon as they idle
	}
	if w.TrustedProxies == nil {
		s.TrustedProxies = []netip.Prefix{} // <trusted-proxies/>: trust no one
	}
	return s
}

// Context builds the web context of the application name: its descriptor d
// (nil means all defaults), its module and the static files under dir ("" for
// none).
func Context(name, dir string, d *descriptor.Descriptor) (container.WebContext, error) {
	if d == nil {
		d = descriptor.Default()
	}
	ctxPath := d.ContextPath
	if ctxPath == "" {
		ctxPath = "/" + name
	}
	wc := container.WebContext{Path: ctxPath, Settings: Settings(d.WebSocket)}
	wc.Settings.SessionTimeout = d.SessionTimeout // descriptor.Disabled is negative: never expires here too
	modName := d.Module
	if modName == "" {
		modName = name
	}
	var app *endpoint.Application
	if mod, ok := endpoint.LookupModule(modName); ok {
		params := endpoint.InitParams{}
		for _, p := range d.WebSocket.InitParams {
			params[p.Name] = p.Value
		}
		var err error
		if app, err = mod.Deploy(params); err != nil {
			return wc, fmt.Errorf("deploy: %s: module %q: %w", name, modName, err)
		}
	} else if d.Module != "" {
		return wc, fmt.Errorf("deploy: %s: no module registered as %q (registered: %s)", name, modName, strings.Join(endpoint.Modules(), ", "))
	}
	var handler http.Handler
	if app != nil {
		wc.Endpoints = app.Endpoints
		handler = app.Handler
	}
	if dir != "" {
		handler = withStatic(dir, handler)
	}
	wc.Handler = handler
	return wc, nil
}

// Bundled returns the context of a registered module deployed with its own
// default descriptor (endpoint.DescriptorProvider), as `wsc` deploys the
// samples when it is given no webapps folder.
func Bundled(module string) (container.WebContext, error) {
	mod, ok := endpoint.LookupModule(module)
	if !ok {
		return container.WebContext{}, fmt.Errorf("deploy: no module registered as %q", module)
	}
	d := descriptor.Default()
	if p, ok := mod.(endpoint.DescriptorProvider); ok {
		var err error
		if d, err = descriptor.ParseBytes(p.DefaultDescriptor()); err != nil {
			return container.WebContext{}, fmt.Errorf("deploy: module %q: its descriptor: %w", module, err)
		}
	}
	return Context(module, "", d)
}

// Webapps builds a context for every folder in dir, in name order. A folder
// that cannot be deployed is left out, and its error, which names it, is
// returned with the others.
func Webapps(dir string) ([]container.WebContext, []error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("deploy: webapps: %w", err)}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	var contexts []container.WebContext
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		appDir := filepath.Join(dir, e.Name())
		d, err := descriptor.ParseFile(filepath.Join(appDir, filepath.FromSlash(DescriptorPath)))
		switch {
		case errors.Is(err, os.ErrNotExist):
			d, err = nil, nil // no descriptor: all defaults, as the seed says
		case err != nil:
			errs = append(errs, fmt.Errorf("deploy: %s: %w", e.Name(), err))
			continue
		}
		wc, err := Context(e.Name(), appDir, d)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		contexts = append(contexts, wc)
	}
	return contexts, errs
}

// withStatic serves the files under dir, then falls back to next (or 404).
// WEB-INF and META-INF are never served, nor are directories without an
// index.html.
func withStatic(dir string, next http.Handler) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := path.Clean("/" + r.URL.Path)
		upper := strings.ToUpper(p)
		if upper == "/WEB-INF" || upper == "/META-INF" || strings.HasPrefix(upper, "/WEB-INF/") || strings.HasPrefix(upper, "/META-INF/") {
			http.NotFound(w, r)
			return
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && servable(dir, p) {
			files.ServeHTTP(w, r)
			return
		}
		if next != nil {
			next.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

// servable reports whether the clean path p names a file under dir, or a
// directory with an index.html.
func servable(dir, p string) bool {
	fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(p)))
	if err != nil {
		return false
	}
	if !fi.IsDir() {
		return true
	}
	_, err = os.Stat(filepath.Join(dir, filepath.FromSlash(p), "index.html"))
	return err == nil
}
