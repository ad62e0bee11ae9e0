package container

import (
	"fmt"
	"log/slog"
)

// gnetLogger sends gnet's own log lines to the container's logger, at one
// level lower than gnet gives them: gnet's "info" lines are start-up chatter.
type gnetLogger struct{ log *slog.Logger }

func (l gnetLogger) Debugf(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "from", "gnet")
}
func (l gnetLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "from", "gnet")
}
func (l gnetLogger) Warnf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...), "from", "gnet")
}
func (l gnetLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "from", "gnet")
}
func (l gnetLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "from", "gnet", "fatal", true)
}
