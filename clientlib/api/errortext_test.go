package api

import (
	"strings"
	"testing"
)

func TestErrorText(t *testing.T) {
	long := strings.Repeat("x", 500)
	if got := ErrorText([]byte(long)); len(got) != 203 || !strings.HasSuffix(got, "...") {
		t.Errorf("long body gives %d chars", len(got))
	}
	if got := ErrorText(nil); got != "(empty body)" {
		t.Errorf("empty body gives %q", got)
	}
	if got := ErrorText([]byte(`{"error":"bad index"}`)); got != "bad index" {
		t.Errorf("JSON body gives %q", got)
	}
}
