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
