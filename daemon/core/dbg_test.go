package core_test

import (
	"testing"
	"time"
)

func TestDbg(t *testing.T) {
	w := newWorld(t, 1, specs(3)...)
	for i := 0; i < 10; i++ {
		w.run(300 * time.Millisecond)
		t.Log(w.describe())
	}
	t.Log(w.dumpTrace(40))
}
