package daemon

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
)

// Run starts a ringd member and blocks until ctx is cancelled, then shuts down
// gracefully (drain, leave, stop HTTP) bounded by cfg.ShutdownTimeout.
// cfg must have passed Validate.
func Run(ctx context.Context, cfg Config, logger hclog.Logger) error {
	_ = ctx
	_ = cfg
	_ = logger
	return errors.New("not implemented yet")
}
