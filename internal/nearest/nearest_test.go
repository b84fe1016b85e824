package nearest

import (
	"fmt"
	"testing"
)

func TestNearest(t *testing.T) {
	if d := Distance("kitten", "sitting"); d != 3 {
		t.Fatalf("distance = %d", d)
	}
	names := []string{"checkout", "checkout-api", "search", "payments"}
	if got := fmt.Sprint(Among("chekout", names, 3)); got != "[checkout]" {
		t.Fatalf("Among = %s", got)
	}
	if got := fmt.Sprint(Among("checkout", names, 3)); got != "[checkout checkout-api]" {
		t.Fatalf("Among = %s", got)
	}
	if got := Suggest("listn", []string{"listen", "log"}); got != ` (did you mean "listen"?)` {
		t.Fatalf("Suggest = %q", got)
	}
	if got := Suggest("zzzzzzzz", []string{"listen"}); got != "" {
		t.Fatalf("Suggest far = %q", got)
	}
}
