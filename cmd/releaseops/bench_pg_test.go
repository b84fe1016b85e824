package main

import (
	"strings"
	"testing"
)

func TestBenchCommandLineHidesThePostgresPassword(t *testing.T) {
	for _, args := range [][]string{
		{"--driver", "postgres", "--postgres-url", "postgres://u:s3cret@db:5432/x", "--replicas", "3"},
		{"--postgres-url=postgres://u:s3cret@db:5432/x"},
		{"-postgres-url", "host=db password=s3cret"},
	} {
		got := strings.Join(redactArgs(args), " ")
		if strings.Contains(got, "s3cret") || !strings.Contains(got, "postgres-url") {
			t.Errorf("%q → %q", args, got)
		}
	}
	if got := redactArgs([]string{"--services", "5"}); strings.Join(got, " ") != "--services 5" {
		t.Errorf("other flags changed: %q", got)
	}
}

func TestBenchRefusesPostgresWithoutAURL(t *testing.T) {
	t.Setenv("RELEASEOPS_STORAGE_POSTGRES_URL", "")
	var out, errb strings.Builder
	err := runBench(t.Context(), []string{"--driver", "postgres"}, &out, &errb)
	if ee, ok := err.(*exitError); !ok || ee.code != 2 || !strings.Contains(ee.Error(), "--postgres-url") {
		t.Fatalf("err %v", err)
	}
}

// Flags the chosen run would ignore are refused, naming them, before anything runs.
func TestBenchRefusesFlagsItWouldIgnore(t *testing.T) {
	t.Setenv("RELEASEOPS_STORAGE_POSTGRES_URL", "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--driver", "postgres", "--postgres-url", "postgres://127.0.0.1:1/x", "--as-users"}, "--as-users: not available with --driver postgres"},
		{[]string{"--driver", "postgres", "--postgres-url", "postgres://127.0.0.1:1/x", "--apis", "fake", "--rounds", "3"}, "--apis, --rounds: not available"},
		{[]string{"--rounds", "3"}, "--rounds 3 alternates the commit and deploy phases"},
		{[]string{"--rounds", "3", "--phases", "commit,mix"}, "--phases commit,deploy"},
		{[]string{"--api-latency", "5ms"}, "--api-latency needs --apis"},
		{[]string{"--apis", "fake", "--api-latency", "-1ms"}, "--api-latency must not be negative"},
		{[]string{"--sync=false"}, "--sync needs --apis"},
	} {
		var out, errb strings.Builder
		err := runBench(t.Context(), tc.args, &out, &errb)
		if ee, ok := err.(*exitError); !ok || ee.code != 2 || !strings.Contains(ee.Error(), tc.want) {
			t.Errorf("%q: err %v, want exit 2 saying %q", tc.args, err, tc.want)
		}
		if out.Len() > 0 {
			t.Errorf("%q: ran before refusing:\n%s", tc.args, out.String())
		}
	}
}
