package proxy

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/store"
	"switchboard/store/postgres"
	"switchboard/store/postgres/pgtest"
)

// The gateway's billing and API tests run again on the postgres backend
// (TestGatewayOnPostgres), against a real PostgreSQL started by the first
// of them and stopped by TestMain.
var (
	pgOnce   sync.Once
	pgServer *pgtest.Server
	pgErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer != nil {
		pgServer.Close()
	}
	os.Exit(code)
}

// onPostgres reports whether t runs under TestGatewayOnPostgres.
func onPostgres(t testing.TB) bool { return strings.HasPrefix(t.Name(), "TestGatewayOnPostgres/") }

// testBackend is st, or under TestGatewayOnPostgres the postgres backend
// over st on a database of its own, and what closes it.
func testBackend(t testing.TB, st *store.Store) (store.Backend, func()) {
	t.Helper()
	if !onPostgres(t) {
		return st, func() {}
	}
	pgOnce.Do(func() { pgServer, pgErr = pgtest.StartShared() })
	if pgErr != nil {
		t.Fatalf("pgtest: %v", pgErr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pg, err := postgres.Open(ctx, pgServer.NewDatabase(t), st, postgres.Options{Node: "test", Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return pg, func() { _ = pg.Close(context.Background()) }
}

// TestGatewayOnPostgres runs the billing and billing-API tests again on
// the postgres backend: both backends answer alike.
func TestGatewayOnPostgres(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"KeyHolderSeesWhatCallsCost", TestKeyHolderSeesWhatCallsCost},
		{"UsageListing", TestUsageListing},
		{"DashboardCreditsShowsThePlan", TestDashboardCreditsShowsThePlan},
		{"APIAnswersThroughTheGateway", TestAPIAnswersThroughTheGateway},
		{"MeteredCallIsChargedAtProviderPriceWithFreeCacheReads", TestMeteredCallIsChargedAtProviderPriceWithFreeCacheReads},
		{"InsufficientCreditIs402AndReachesNoProvider", TestInsufficientCreditIs402AndReachesNoProvider},
		{"DailyBudgetIs402OnceSpent", TestDailyBudgetIs402OnceSpent},
		{"RevokedAndExpiredKeysAre401", TestRevokedAndExpiredKeysAre401},
		{"UnreachableProviderReleasesTheReservation", TestUnreachableProviderReleasesTheReservation},
		{"ProviderErrorIsSettledAtNoCost", TestProviderErrorIsSettledAtNoCost},
	} {
		t.Run(tc.name, tc.fn)
	}
}
