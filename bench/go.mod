module github.com/wsc-dev/wsc/bench

go 1.26.8

require (
	github.com/gobwas/ws v1.5.0
	github.com/panjf2000/gnet/v2 v2.10.0
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/panjf2000/ants/v2 v2.12.1 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/wsc-dev/wsc v0.0.0-00010101000000-000000000000 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.28.0 // indirect
	golang.org/x/sync v0.11.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
)

replace github.com/wsc-dev/wsc => ../

tool github.com/wsc-dev/wsc/cmd/wsc
