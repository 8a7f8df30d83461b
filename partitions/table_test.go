package partitions

import (
	"fmt"
	"testing"
)

func TestTableIDLess(t *testing.T) {
	cases := []struct {
		a, b TableID
		want bool
	}{
		{TableID{0, 0}, TableID{0, 0}, false},
		{TableID{0, 0}, TableID{0, 1}, true},
		{TableID{3, 5}, TableID{3, 5}, false},
		{TableID{3, 5}, TableID{3, 6}, true},
		{TableID{3, 6}, TableID{3, 5}, false},
		// The term decides before the version, whatever the versions are.
		{TableID{3, 9}, TableID{4, 0}, true},
		{TableID{4, 0}, TableID{3, 9}, false},
		{TableID{2, 100}, TableID{3, 1}, true},
		{TableID{3, 1}, TableID{2, 100}, false},
		{TableID{1, ^uint64(0)}, TableID{2, 0}, true},
		{TableID{^uint64(0), 0}, TableID{^uint64(0), 1}, true},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v<%v", c.a, c.b), func(t *testing.T) {
			if got := c.a.Less(c.b); got != c.want {
				t.Fatalf("%v.Less(%v) = %v, want %v", c.a, c.b, got, c.want)
			}
			// A strict order: never both ways, and equal ids are neither.
			if c.a.Less(c.b) && c.b.Less(c.a) {
				t.Fatalf("%v and %v are each less than the other", c.a, c.b)
			}
			if c.a == c.b && c.a.Less(c.b) {
				t.Fatalf("%v is less than itself", c.a)
			}
		})
	}
}

func TestTableIDLessIsATotalOrder(t *testing.T) {
	var ids []TableID
	for term := uint64(0); term < 4; term++ {
		for v := uint64(0); v < 4; v++ {
			ids = append(ids, TableID{term, v})
		}
	}
	// ids is built in ascending order: Less must agree with the position.
	for i, a := range ids {
		for j, b := range ids {
			if got, want := a.Less(b), i < j; got != want {
				t.Errorf("%v.Less(%v) = %v, want %v", a, b, got, want)
			}
		}
	}
}

func TestTableIDString(t *testing.T) {
	if got := (TableID{Term: 7, Version: 42}).String(); got != "7.42" {
		t.Fatalf("String() = %q, want %q", got, "7.42")
	}
}
