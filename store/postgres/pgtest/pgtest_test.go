package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestServerStartsStopsAndRestarts(t *testing.T) {
	s := Start(t)
	url := s.NewDatabase(t)
	ping := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		return c.Ping(ctx)
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	if err := ping(); err == nil {
		t.Fatal("connected to a stopped server")
	}
	s.Restart(t)
	if err := ping(); err != nil {
		t.Fatal(err)
	}
}
