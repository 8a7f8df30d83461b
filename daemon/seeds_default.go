//go:build !testhosts

package daemon

// resolveSeeds returns the --join seeds as memberlist gets them: it resolves
// DNS names itself, again on every join.
func resolveSeeds(seeds []string) []string { return seeds }
