package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/ringd/ringd/docs/openapi"
)

// lookChromium finds the browser for the dashboard test. It fails rather
// than skips: a dashboard test that quietly does not run is worse than none.
func lookChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RINGD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("Chromium is not installed (looked for /usr/bin/chromium, chromium and chromium-browser in PATH): " +
		"run `make deps`, which installs Debian's chromium package, or set RINGD_CHROMIUM to a Chromium binary")
	return ""
}

// artifactDir is where screenshots go: $RINGD_ARTIFACTS, or a temporary
// directory of the test.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("RINGD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browserLog collects what a person would see as errors in the browser's
// console: console.error calls, uncaught exceptions and the browser's own
// error entries (failed loads, CSP violations).
type browserLog struct {
	mu       sync.Mutex
	problems []string
}

func (b *browserLog) listen(ev any) {
	var msg string
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Value != nil {
				parts = append(parts, string(a.Value))
			} else {
				parts = append(parts, a.Description)
			}
		}
		msg = "console." + string(ev.Type) + ": " + strings.Join(parts, " ")
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg = fmt.Sprintf("uncaught exception at %s:%d:%d: %s", d.URL, d.LineNumber+1, d.ColumnNumber+1, d.Text)
		if d.Exception != nil {
			msg += " " + d.Exception.Description
		}
	case *cdplog.EventEntryAdded:
		if ev.Entry.Level != cdplog.EntryLevelError {
			return
		}
		msg = "browser " + string(ev.Entry.Source) + " error: " + ev.Entry.Text + " " + ev.Entry.URL
	default:
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, msg)
	b.mu.Unlock()
}

func (b *browserLog) list() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.problems...)
}

// serveOn serves s on ln in the background; the returned func shuts it down
// and waits for Serve (harmless to call twice).
func serveOn(t *testing.T, s *Server, ln net.Listener) func() {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := s.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// TestDashboardInBrowser drives /dashboard in headless Chromium: the page
// loads without console errors, draws the members and every partition,
// follows a member leaving without a reload, shows a member that stops
// answering, and recovers when it is back.
func TestDashboardInBrowser(t *testing.T) {
	chrome := lookChromium(t)
	artifacts := artifactDir(t)

	const partitions = 64
	members := []string{"ringd-2", "ringd-0", "ringd-1", "ringd-3"}
	f := newFullFake(partitions, members...)
	logger, _ := testLogger(t)
	s := New(f, Options{Logger: logger})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	stop := serveOn(t, s, ln)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelBrowser)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelTimeout)

	var console browserLog
	if err := chromedp.Listen(ctx, console.listen); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}

	fail := func(what string, err error) {
		t.Helper()
		if shot, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
			_ = os.WriteFile(filepath.Join(artifacts, "dashboard-failed.png"), shot, 0o644)
		}
		t.Fatalf("%s: %v\nbrowser console: %q", what, err, console.list())
	}
	do := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(ctx, a); err != nil {
			fail(what, err)
		}
	}
	// until waits for a JavaScript condition to hold.
	until := func(what, cond string) {
		t.Helper()
		defer func(start time.Time) { t.Logf("%v waiting for %s", time.Since(start).Round(time.Millisecond), what) }(time.Now())
		do("waiting for "+what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(20*time.Second)))
	}
	evalString := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			fail("evaluating "+expr, err)
		}
		return v
	}
	evalInt := func(expr string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		if err != nil {
			fail("evaluating "+expr, err)
		}
		return v
	}
	screenshot := func(names ...string) {
		t.Helper()
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			fail("screenshot", err)
		}
		for _, name := range names {
			if !filepath.IsAbs(name) {
				name = filepath.Join(artifacts, name)
			}
			if err := os.WriteFile(name, shot, 0o644); err != nil {
				t.Errorf("saving screenshot: %v", err)
			}
		}
	}
	count := func(selector string) int {
		t.Helper()
		return evalInt(fmt.Sprintf(`document.querySelectorAll(%q).length`, selector))
	}

	// The page loads and draws the cluster.
	do("opening the dashboard", chromedp.Navigate("http://"+addr+"/dashboard"))
	until("4 members and 64 partitions",
		`document.querySelectorAll('#ring .member').length === 4 && document.querySelectorAll('#grid .cell').length === 64`)
	until("the link to show live", `document.getElementById('link').dataset.state === 'live'`)
	until("the recent changes", `document.getElementById('changes').textContent.includes('ringd-2 is leader')`)
	until("this member's lease", `document.getElementById('lease-text').textContent.includes('s left')`)

	releasing, unassigned := f.countStates()
	for _, tc := range []struct {
		selector string
		want     int
	}{
		{`#ring .member.leader[data-name="ringd-2"]`, 1},
		{`#ring .member.leader`, 1},
		{`#ring .member.voter`, 3},
		{`#ring .member.self[data-name="ringd-0"]`, 1},
		{`#grid .cell.releasing`, releasing},
		{`#grid .cell.unassigned`, unassigned},
		{`#grid .cell[data-owner="ringd-3"]`, f.owns("ringd-3")},
		{`#mine li`, 2},
		{`#mine li.releasing`, 1},
	} {
		if got := count(tc.selector); got != tc.want {
			t.Errorf("%s: %d elements, want %d", tc.selector, got, tc.want)
		}
	}
	// Owners are told apart by colour; unassigned cells are grey.
	colours, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](
		`['0','1','2','3','12'].map(id => getComputedStyle(document.querySelector('#grid .cell[data-id="'+id+'"]')).backgroundColor)`))
	if err != nil {
		fail("reading cell colours", err)
	}
	seen := map[string]bool{}
	for _, c := range colours[:4] {
		seen[c] = true
	}
	if len(seen) != 4 || seen[colours[4]] {
		t.Errorf("cell colours %q: want four owner colours and a different one for unassigned", colours)
	}
	if title := evalString(`document.title`); title != "ringd · ringd-0" {
		t.Errorf("title %q", title)
	}
	screenshot("dashboard-initial.png")

	// The page must follow changes by itself, not by reloading.
	evalInt(`window.__ringdNoReload = 42`)

	// ringd-3 leaves; its partitions go to the others.
	rest := members[:3]
	f.setTable(dealTable(2, partitions, rest))
	f.addChange("ringd-3 is gone")
	until("ringd-3 to leave the ring and the map",
		`document.querySelectorAll('#ring .member').length === 3 && `+
			`!document.querySelector('#ring .member[data-name="ringd-3"]') && `+
			`document.querySelectorAll('#grid .cell[data-owner="ringd-3"]').length === 0 && `+
			`document.querySelectorAll('#grid .cell').length === 64`)
	until("the change to be listed", `document.getElementById('changes').textContent.includes('ringd-3 is gone')`)
	if evalInt(`window.__ringdNoReload || 0`) != 42 {
		t.Fatal("the page reloaded instead of updating itself")
	}
	for _, m := range rest {
		if got, want := count(`#grid .cell[data-owner="`+m+`"]`), f.owns(m); got != want {
			t.Errorf("%s owns %d cells after the change, want %d", m, got, want)
		}
	}
	screenshot("dashboard.png", "/tmp/ringd-dashboard.png")

	if p := console.list(); len(p) > 0 {
		t.Fatalf("the browser console shows errors:\n%s", strings.Join(p, "\n"))
	}
	if acks := f.recordedAcks(); len(acks) != 0 {
		t.Fatalf("the dashboard acknowledged releases: %v", acks)
	}

	// The Swagger UI loads in another tab, shows every operation of the
	// document and logs no errors either.
	swaggerTab(t, ctx, "http://"+addr+"/swagger/index.html", artifacts)

	// The member stops answering: the page says so (the browser logs the
	// failed requests, which is expected from here on) ...
	stop()
	until("the page to show the member down",
		`document.getElementById('link').dataset.state === 'down' && document.body.classList.contains('stale')`)
	if text := evalString(`document.getElementById('link').textContent`); !strings.Contains(text, "unreachable") || !strings.Contains(text, "retrying") {
		t.Errorf("link says %q", text)
	}
	screenshot("dashboard-down.png")

	// ... and recovers by itself when the member is back on the same address.
	ln2, err := listenAgain(addr)
	if err != nil {
		t.Fatal(err)
	}
	s2 := New(f, Options{Logger: logger})
	serveOn(t, s2, ln2)
	f.setTable(dealTable(3, partitions, rest[:2]))
	until("the page to recover",
		`document.getElementById('link').dataset.state === 'live' && document.querySelectorAll('#ring .member').length === 2`)
	if evalInt(`window.__ringdNoReload || 0`) != 42 {
		t.Fatal("the page reloaded to recover")
	}
	t.Logf("screenshots in %s; the main one also at /tmp/ringd-dashboard.png", artifacts)
}

// listenAgain listens on addr again, retrying for a while if the old
// socket still holds it (Go sets SO_REUSEADDR, so this is rare).
func listenAgain(addr string) (net.Listener, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// countStates counts the releasing and unassigned partitions of the table.
func (f *fullFake) countStates() (releasing, unassigned int) {
	t, _ := f.Table()
	for _, e := range t.Partitions {
		switch e.State {
		case "releasing":
			releasing++
		case "unassigned":
			unassigned++
		}
	}
	return releasing, unassigned
}

// owns counts the partitions the table gives member (in any state but
// unassigned).
func (f *fullFake) owns(member string) int {
	t, _ := f.Table()
	n := 0
	for _, e := range t.Partitions {
		if e.Owner == member && e.State != "unassigned" {
			n++
		}
	}
	return n
}

// swaggerTab opens the Swagger UI in a new tab of the browser of ctx and
// checks that it renders one block per operation of the committed document
// without console errors.
func swaggerTab(t *testing.T, ctx context.Context, url, artifacts string) {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapi.JSON, &doc); err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, methods := range doc.Paths {
		ops += len(methods)
	}

	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	var console browserLog
	if err := chromedp.Listen(tab, console.listen); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	if err := chromedp.Do(tab,
		chromedp.Navigate(url),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('.opblock').length === %d`, ops),
				chromedp.WithPollingTimeout(20*time.Second))(ctx, tg)
			return err
		}),
	); err != nil {
		n, _ := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('.opblock').length`))
		t.Fatalf("Swagger UI: %v (%d operation blocks, want %d)\nconsole: %q", err, n, ops, console.list())
	}
	if shot, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
		_ = os.WriteFile(filepath.Join(artifacts, "swagger-ui.png"), shot, 0o644)
	}
	if p := console.list(); len(p) > 0 {
		t.Fatalf("the Swagger UI logs errors:\n%s", strings.Join(p, "\n"))
	}
}
