package qmgr

import (
	"testing"
	"time"
)

func TestFormatDelay(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0.00"},
		{-time.Second, "0.00"},
		{1234 * time.Millisecond, "1.23"},
		{102*time.Second + 370*time.Millisecond, "102.37"},
		{36 * time.Hour, "129600.00"},
	} {
		if got := formatDelay(tc.d); got != tc.want {
			t.Errorf("formatDelay(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
