package subcmd

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/gluon-464xlat/gluon-464xlat/ctlsock"
)

type fakeStatus struct {
	State string `json:"state"`
	wrote bool
}

func (f *fakeStatus) WriteText(io.Writer) error { f.wrote = true; return nil }

func TestPrintStatus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "d.sock")
	srv, err := ctlsock.Listen(sock, map[string]ctlsock.Handler{
		"status": func(context.Context, []string) ([]byte, error) { return []byte(`{"state":"running"}` + "\n"), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	var st fakeStatus
	if code := PrintStatus("d", sock, false, &st); code != 0 || st.State != "running" || !st.wrote {
		t.Errorf("text: code %d, status %+v", code, st)
	}
	st = fakeStatus{}
	if code := PrintStatus("d", sock, true, &st); code != 0 || st.wrote {
		t.Errorf("json: code %d, status %+v", code, st)
	}
	if code := PrintStatus("d", filepath.Join(t.TempDir(), "none.sock"), false, &st); code != 1 {
		t.Errorf("no daemon: code %d, want 1", code)
	}
}
