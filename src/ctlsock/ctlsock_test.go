package ctlsock

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeAndCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ctl.sock")
	srv, err := Listen(path, map[string]Handler{
		"echo": func(_ context.Context, args []string) ([]byte, error) {
			return []byte(strings.Join(args, ",") + "\n"), nil
		},
		"fail": func(context.Context, []string) ([]byte, error) {
			return nil, errors.New("no such client")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	tests := []struct {
		line, want, wantErr string
	}{
		{"echo a b", "a,b\n", ""},
		{"fail x", "", "no such client"},
		{"nope", "", `unknown command "nope"`},
		{"", "", "empty command"},
	}
	for _, tc := range tests {
		got, err := Call(cctx, path, tc.line)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Call(%q) error = %v, want %q", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("Call(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
}
