package postgres

import (
	"testing"

	"switchboard/store/money"
)

func TestShareOfIsIntegerAndExact(t *testing.T) {
	for _, c := range []struct {
		m     money.Money
		share float64
		want  money.Money
	}{
		{1_000_000_000, 0.1, 100_000_000},
		{1_000_000_999, 0.1, 100_000_099},
		{999, 0.5, 499},
		{7, 1, 7},
		{1 << 62, 0.25, 1 << 60},
		{12_345, 0.01, 123},
	} {
		if got := shareOf(c.m, c.share); got != c.want {
			t.Errorf("shareOf(%d, %v) = %d, want %d", c.m, c.share, got, c.want)
		}
	}
}
