package host

import (
	"context"
	"errors"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

// handlers are the host's control socket commands:
//
//	start NAME ARGS...   start a role (ARGS as for the separate command)
//	stop NAME            stop a role
//	restart NAME         stop and start a role with its arguments (reload)
//	status               one line per role
func (s *supervisor) handlers() map[string]ctlsock.Handler {
	ok := []byte("ok\n")
	return map[string]ctlsock.Handler{
		"start": func(_ context.Context, args []string) ([]byte, error) {
			if len(args) == 0 {
				return nil, errors.New("start: want a role name")
			}
			return ok, s.start(args[0], args[1:])
		},
		"stop": func(_ context.Context, args []string) ([]byte, error) {
			if len(args) != 1 {
				return nil, errors.New("stop: want one role name")
			}
			return ok, s.stop(args[0])
		},
		"restart": func(_ context.Context, args []string) ([]byte, error) {
			if len(args) != 1 {
				return nil, errors.New("restart: want one role name")
			}
			return ok, s.restart(args[0])
		},
		"status": func(context.Context, []string) ([]byte, error) {
			return []byte(s.status()), nil
		},
	}
}
