package clientlib_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/ringd/ringd/clientlib"
)

// The life of one grant, against a stand-in for ringd that grants partition 3
// and then moves it to another member: the worker's context is cancelled,
// and the release is acknowledged with the grant's token once it returned.
func Example() {
	ringd := startFake()
	defer ringd.srv.Close()
	ringd.grant(3, 7, time.Hour)

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	c, err := clientlib.New(ringd.addr())
	if err != nil {
		log.Fatal(err)
	}
	err = c.Run(ctx, clientlib.WorkerFunc(func(ctx context.Context, p clientlib.Partition) error {
		fmt.Println("acquired", p)
		ringd.release(p.ID) // the leader moves it away
		<-ctx.Done()
		fmt.Println("giving up", p, "because", context.Cause(ctx))
		stop() // end the example: Run returns once the release is acknowledged
		return nil
	}))
	for _, a := range ringd.ackList() {
		fmt.Printf("acknowledged partition %d token %d (Run returned %v)\n", a.id, a.token, err)
	}
	// Output:
	// acquired partition 3 (token 7)
	// giving up partition 3 (token 7) because clientlib: the partition was revoked
	// acknowledged partition 3 token 7 (Run returned <nil>)
}

// A worker per partition: the usual way to use the library.
func ExampleClient_Run() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	c, err := clientlib.New("127.0.0.1:8080", clientlib.WithLogger(slog.Default()))
	if err != nil {
		log.Fatal(err)
	}
	err = c.Run(ctx, clientlib.WorkerFunc(func(ctx context.Context, p clientlib.Partition) error {
		log.Printf("working on %v until %v", p, p.Deadline().Format(time.RFC3339Nano))
		for ctx.Err() == nil {
			// Process one item of partition p.ID, passing p.Token to
			// storage that refuses writes of replaced owners.
			time.Sleep(100 * time.Millisecond)
		}
		log.Printf("stopping %v: %v", p, context.Cause(ctx))
		return nil
	}))
	if err != nil {
		log.Fatal(err)
	}
}

// Callbacks, for an application that runs its own goroutines.
func ExampleCallbacks() {
	c, err := clientlib.New("127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	_ = c.Run(context.Background(), clientlib.Callbacks{
		OnAcquired: func(ctx context.Context, p clientlib.Partition) { log.Printf("start consuming %v", p) },
		OnReleased: func(p clientlib.Partition) { log.Printf("stop consuming %v (and wait until it stopped)", p) },
		OnLost:     func(p clientlib.Partition) { log.Printf("%v lost: discard uncommitted work", p) },
	})
}

// Locate tells where a key belongs, to forward a request to its owner.
func ExampleClient_Locate() {
	c, err := clientlib.New("http://127.0.0.1:8080")
	if err != nil {
		log.Fatal(err)
	}
	loc, err := c.Locate(context.Background(), "customer-42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("key %s: partition %d, owner %s at %s\n", loc.Key, loc.Partition, loc.Owner, loc.OwnerHTTPAddr)
}

// New refuses an address it cannot use, with the reason.
func ExampleNew() {
	_, err := clientlib.New("ftp://127.0.0.1:8080")
	fmt.Println(err)
	// Output: clientlib: the ringd address "ftp://127.0.0.1:8080" has scheme "ftp"; use http or https
}
