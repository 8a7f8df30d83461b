package restapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// browserPage is a tab of a headless Chromium for a dashboard test. Its
// methods fail the test with a screenshot and the browser's console.
type browserPage struct {
	t         *testing.T
	ctx       context.Context
	console   *browserLog
	artifacts string
	// failShot is the file name of the screenshot taken on a failure.
	failShot string
}

// openBrowser starts Chromium for the test; it is stopped at cleanup.
func openBrowser(t *testing.T, failShot string) *browserPage {
	t.Helper()
	chrome := lookChromium(t)
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

	b := &browserPage{t: t, ctx: ctx, console: &browserLog{}, artifacts: artifactDir(t), failShot: failShot}
	if err := chromedp.Listen(ctx, b.console.listen); err != nil {
		t.Fatalf("starting %s: %v", chrome, err)
	}
	return b
}

func (b *browserPage) fail(what string, err error) {
	b.t.Helper()
	if shot, serr := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)); serr == nil {
		_ = os.WriteFile(filepath.Join(b.artifacts, b.failShot), shot, 0o644)
	}
	b.t.Fatalf("%s: %v\nbrowser console: %q", what, err, b.console.list())
}

func (b *browserPage) do(what string, a chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, a); err != nil {
		b.fail(what, err)
	}
}

// until waits for a JavaScript condition to hold.
func (b *browserPage) until(what, cond string) {
	b.t.Helper()
	defer func(start time.Time) { b.t.Logf("%v waiting for %s", time.Since(start).Round(time.Millisecond), what) }(time.Now())
	b.do("waiting for "+what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(20*time.Second)))
}

func (b *browserPage) evalString(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		b.fail("evaluating "+expr, err)
	}
	return v
}

func (b *browserPage) evalInt(expr string) int {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](expr))
	if err != nil {
		b.fail("evaluating "+expr, err)
	}
	return v
}

func (b *browserPage) evalBool(expr string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.fail("evaluating "+expr, err)
	}
	return v
}

func (b *browserPage) evalStrings(expr string) []string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](expr))
	if err != nil {
		b.fail("evaluating "+expr, err)
	}
	return v
}

func (b *browserPage) screenshot(names ...string) {
	b.t.Helper()
	shot, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.fail("screenshot", err)
	}
	for _, name := range names {
		if !filepath.IsAbs(name) {
			name = filepath.Join(b.artifacts, name)
		}
		if err := os.WriteFile(name, shot, 0o644); err != nil {
			b.t.Errorf("saving screenshot: %v", err)
		}
	}
}

func (b *browserPage) count(selector string) int {
	b.t.Helper()
	return b.evalInt(fmt.Sprintf(`document.querySelectorAll(%q).length`, selector))
}

// shown is a JavaScript condition: the element with this id is rendered.
func shown(id string) string {
	return fmt.Sprintf(`(el => !!el && !el.hidden && getComputedStyle(el).display !== 'none' && el.getClientRects().length > 0)(document.getElementById(%q))`, id)
}

// TestDashboardInBrowser drives /dashboard in headless Chromium: the page
// loads without console errors, draws the members and every partition,
// follows a member leaving without a reload, shows a member that stops
// answering, and recovers when it is back.
func TestDashboardInBrowser(t *testing.T) {
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
	b := openBrowser(t, "dashboard-failed.png")

	// The page loads and draws the cluster.
	b.do("opening the dashboard", chromedp.Navigate("http://"+addr+"/dashboard"))
	b.until("4 members and 64 partitions",
		`document.querySelectorAll('#ring .member').length === 4 && document.querySelectorAll('#grid .cell').length === 64`)
	b.until("the link to show live", `document.getElementById('link').dataset.state === 'live'`)
	b.until("the recent changes", `document.getElementById('changes').textContent.includes('ringd-2 is leader')`)
	b.until("this member's lease", `document.getElementById('lease-text').textContent.includes('s left')`)
	b.until("the members table", `document.querySelectorAll('#member-rows tr').length === 4`)

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
		// Without an operator's placement nothing is pinned, reserved,
		// excluded or restarting.
		{`#grid .cell.pinned`, 0},
		{`#grid .cell.reserved`, 0},
		{`#grid .cell[data-standbys]`, 0},
		{`#member-rows tr.excluded, #member-rows tr.restarting`, 0},
		{`#ring .member.excluded, #ring .member.restarting`, 0},
		{`#member-rows tr.self[data-name="ringd-0"]`, 1},
	} {
		if got := b.count(tc.selector); got != tc.want {
			t.Errorf("%s: %d elements, want %d", tc.selector, got, tc.want)
		}
	}
	for _, id := range []string{"frozen", "standby-block"} {
		if b.evalBool(shown(id)) {
			t.Errorf("#%s is shown for a cluster without it", id)
		}
	}
	// Members of an older ringd say no zone or weight: none, and weight 1.
	if got := b.evalStrings(`Array.from(document.querySelectorAll('#member-rows tr[data-name="ringd-1"] td')).map(td => td.textContent)`); len(got) != 5 || !slices.Equal(got[1:4], []string{"—", "1", fmt.Sprint(f.owns("ringd-1"))}) {
		t.Errorf("ringd-1's row: %q", got)
	}
	// Owners are told apart by colour; unassigned cells are grey.
	colours, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](
		`['0','1','2','3','12'].map(id => getComputedStyle(document.querySelector('#grid .cell[data-id="'+id+'"]')).backgroundColor)`))
	if err != nil {
		b.fail("reading cell colours", err)
	}
	seen := map[string]bool{}
	for _, c := range colours[:4] {
		seen[c] = true
	}
	if len(seen) != 4 || seen[colours[4]] {
		t.Errorf("cell colours %q: want four owner colours and a different one for unassigned", colours)
	}
	if title := b.evalString(`document.title`); title != "ringd · ringd-0" {
		t.Errorf("title %q", title)
	}
	b.screenshot("dashboard-initial.png")

	// The page must follow changes by itself, not by reloading.
	b.evalInt(`window.__ringdNoReload = 42`)

	// ringd-3 leaves; its partitions go to the others.
	rest := members[:3]
	f.setTable(dealTable(2, partitions, rest))
	f.addChange("ringd-3 is gone")
	b.until("ringd-3 to leave the ring and the map",
		`document.querySelectorAll('#ring .member').length === 3 && `+
			`!document.querySelector('#ring .member[data-name="ringd-3"]') && `+
			`document.querySelectorAll('#grid .cell[data-owner="ringd-3"]').length === 0 && `+
			`document.querySelectorAll('#grid .cell').length === 64`)
	b.until("the change to be listed", `document.getElementById('changes').textContent.includes('ringd-3 is gone')`)
	if b.evalInt(`window.__ringdNoReload || 0`) != 42 {
		t.Fatal("the page reloaded instead of updating itself")
	}
	for _, m := range rest {
		if got, want := b.count(`#grid .cell[data-owner="`+m+`"]`), f.owns(m); got != want {
			t.Errorf("%s owns %d cells after the change, want %d", m, got, want)
		}
	}
	b.screenshot("dashboard.png", "/tmp/ringd-dashboard.png")

	if p := b.console.list(); len(p) > 0 {
		t.Fatalf("the browser console shows errors:\n%s", strings.Join(p, "\n"))
	}
	if acks := f.recordedAcks(); len(acks) != 0 {
		t.Fatalf("the dashboard acknowledged releases: %v", acks)
	}

	// The Swagger UI loads in another tab, shows every operation of the
	// document and logs no errors either.
	swaggerTab(t, b.ctx, "http://"+addr+"/swagger/index.html", b.artifacts)

	// The member stops answering: the page says so (the browser logs the
	// failed requests, which is expected from here on) ...
	stop()
	b.until("the page to show the member down",
		`document.getElementById('link').dataset.state === 'down' && document.body.classList.contains('stale')`)
	if text := b.evalString(`document.getElementById('link').textContent`); !strings.Contains(text, "unreachable") || !strings.Contains(text, "retrying") {
		t.Errorf("link says %q", text)
	}
	b.screenshot("dashboard-down.png")

	// ... and recovers by itself when the member is back on the same address.
	ln2, err := listenAgain(addr)
	if err != nil {
		t.Fatal(err)
	}
	s2 := New(f, Options{Logger: logger})
	serveOn(t, s2, ln2)
	f.setTable(dealTable(3, partitions, rest[:2]))
	b.until("the page to recover",
		`document.getElementById('link').dataset.state === 'live' && document.querySelectorAll('#ring .member').length === 2`)
	if b.evalInt(`window.__ringdNoReload || 0`) != 42 {
		t.Fatal("the page reloaded to recover")
	}
	t.Logf("screenshots in %s; the main one also at /tmp/ringd-dashboard.png", b.artifacts)
}

// TestDashboardShowsPlacementInBrowser drives /dashboard in headless
// Chromium over a cluster with an operator's placement: the frozen banner,
// excluded and restarting members with their zones and weights, pinned and
// reserved partitions, standbys, and the partitions this member stands by
// for; and the banner going away when the assignment is unfrozen.
func TestDashboardShowsPlacementInBrowser(t *testing.T) {
	const partitions = 40
	members := []string{"ringd-2", "ringd-0", "ringd-1", "ringd-3", "ringd-4"}
	f := newFullFake(partitions, members...)
	place := placement{
		frozen:     true,
		excluded:   []string{"ringd-3"},
		pins:       map[int]string{5: "ringd-1", 12: "ringd-0"},
		standbys:   2,
		restarting: []string{"ringd-4"},
		// ringd-3 runs an older ringd: no zone, no weight.
		zones:   map[string]string{"ringd-2": "zone-a", "ringd-0": "zone-b", "ringd-1": "zone-a", "ringd-4": "zone-c"},
		weights: map[string]float64{"ringd-2": 1.5, "ringd-0": 2, "ringd-1": 1, "ringd-4": 1},
	}
	f.setPlacement(place)
	table, _ := f.Table()
	mine, _ := f.Mine()
	// The fake must show what the page is to draw, or this test proves
	// nothing.
	reserved, pinned, withStandbys := 0, 0, 0
	for _, e := range table.Partitions {
		if e.ReservedFor != "" {
			reserved++
		}
		if e.PinnedTo != "" {
			pinned++
		}
		if len(e.Standbys) > 0 {
			withStandbys++
		}
	}
	_, unassigned := f.countStates()
	if !table.Frozen || reserved == 0 || pinned != 2 || withStandbys == 0 || len(mine.Standby) == 0 || f.owns("ringd-3") != 0 {
		t.Fatalf("the fake's placement is not in its answers: frozen %v, %d reserved, %d pinned, %d with standbys, %d standby for %s, ringd-3 owns %d",
			table.Frozen, reserved, pinned, withStandbys, len(mine.Standby), mine.Node, f.owns("ringd-3"))
	}

	logger, _ := testLogger(t)
	s := New(f, Options{Logger: logger})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	b := openBrowser(t, "dashboard-placement-failed.png")

	b.do("opening the dashboard", chromedp.Navigate(ts.URL+"/dashboard"))
	b.until("5 members, 40 partitions and the standby list",
		`document.querySelectorAll('#member-rows tr').length === 5 && document.querySelectorAll('#grid .cell').length === 40 && `+
			fmt.Sprintf(`document.querySelectorAll('#standby li').length === %d`, len(mine.Standby)))

	// Frozen: a banner says so.
	if !b.evalBool(shown("frozen")) {
		t.Error("the frozen banner is not shown for a frozen assignment")
	}
	if text := b.evalString(`document.getElementById('frozen').textContent`); !strings.Contains(text, "assignment frozen — no rebalancing moves") {
		t.Errorf("frozen banner says %q", text)
	}

	// Members: zone and weight (1 when not said), the excluded and the
	// restarting one marked, in the table and on the ring.
	for _, tc := range []struct {
		name, zone, weight string
		flags              []string
	}{
		{"ringd-2", "zone-a", "1.5", []string{"leader", "voter"}},
		{"ringd-0", "zone-b", "2", []string{"this member", "voter"}},
		{"ringd-1", "zone-a", "1", []string{"voter"}},
		{"ringd-3", "—", "1", []string{"excluded"}},
		{"ringd-4", "zone-c", "1", []string{"restarting"}},
	} {
		row := fmt.Sprintf(`#member-rows tr[data-name=%q]`, tc.name)
		got := b.evalStrings(fmt.Sprintf(`[...document.querySelectorAll('%s td.zone, %s td.weight')].map(td => td.textContent)`, row, row))
		if !slices.Equal(got, []string{tc.zone, tc.weight}) {
			t.Errorf("%s: zone and weight %q, want %q", tc.name, got, []string{tc.zone, tc.weight})
		}
		badges := b.evalStrings(fmt.Sprintf(`[...document.querySelectorAll('%s td.state .badge')].map(s => s.textContent)`, row))
		if !slices.Equal(badges, tc.flags) {
			t.Errorf("%s: state %q, want %q", tc.name, badges, tc.flags)
		}
	}
	for _, tc := range []struct {
		selector string
		want     int
	}{
		{`#member-rows tr.excluded`, 1},
		{`#member-rows tr.excluded[data-name="ringd-3"]`, 1},
		{`#member-rows tr.restarting`, 1},
		{`#member-rows tr.restarting[data-name="ringd-4"]`, 1},
		{`#ring .member.excluded[data-name="ringd-3"]`, 1},
		{`#ring .member.restarting[data-name="ringd-4"]`, 1},
		{`#ring .member.excluded, #ring .member.restarting`, 2},
		// Partitions: pinned ones marked, reserved ones apart from the
		// plain unassigned.
		{`#grid .cell.pinned`, pinned},
		{`#grid .cell.reserved`, reserved},
		{`#grid .cell.reserved[data-reserved-for="ringd-4"]`, reserved},
		{`#grid .cell.unassigned`, unassigned - reserved},
		{`#grid .cell.reserved.unassigned`, 0},
		{`#grid .cell[data-owner="ringd-4"], #grid .cell[data-owner="ringd-3"]`, 0},
	} {
		if got := b.count(tc.selector); got != tc.want {
			t.Errorf("%s: %d elements, want %d", tc.selector, got, tc.want)
		}
	}

	// A pinned partition shows its member; one not there yet says so.
	for _, tc := range []struct {
		id            int
		member, title string
	}{
		{5, "ringd-1", "pinned to ringd-1"},
		{12, "ringd-0", "pinned to ringd-0 (not there yet)"},
	} {
		cell := fmt.Sprintf(`document.querySelector('#grid .cell[data-id="%d"]')`, tc.id)
		if got := b.evalString(cell + `.dataset.pinned`); got != tc.member {
			t.Errorf("partition %d: pinned to %q, want %s", tc.id, got, tc.member)
		}
		if title := b.evalString(cell + `.title`); !strings.Contains(title, tc.title) {
			t.Errorf("partition %d: title %q lacks %q", tc.id, title, tc.title)
		}
	}
	if e := table.Partitions[5]; e.Owner != "ringd-1" || b.evalString(`document.querySelector('#grid .cell[data-id="5"]').dataset.owner`) != "ringd-1" {
		t.Errorf("partition 5 is pinned to ringd-1 but owned by %q", e.Owner)
	}

	// A reserved partition names its member and looks unlike an
	// unassigned one.
	var resID, freeID int = -1, -1
	for _, e := range table.Partitions {
		switch {
		case e.ReservedFor != "" && resID < 0:
			resID = e.ID
		case e.State == "unassigned" && e.ReservedFor == "" && freeID < 0:
			freeID = e.ID
		}
	}
	if resID < 0 || freeID < 0 {
		t.Fatalf("the fake has no reserved (%d) or no plain unassigned (%d) partition", resID, freeID)
	}
	if title := b.evalString(fmt.Sprintf(`document.querySelector('#grid .cell[data-id="%d"]').title`, resID)); !strings.Contains(title, "reserved for ringd-4") {
		t.Errorf("reserved partition %d: title %q", resID, title)
	}
	looks := b.evalStrings(fmt.Sprintf(
		`[%d, %d].map(id => (s => s.backgroundColor + ' ' + s.borderTopStyle + ' ' + s.borderTopColor)(getComputedStyle(document.querySelector('#grid .cell[data-id="' + id + '"]'))))`,
		resID, freeID))
	if looks[0] == looks[1] {
		t.Errorf("a reserved and an unassigned partition look the same: %q", looks)
	}
	if !strings.Contains(b.evalString(`document.getElementById('legend').textContent`), fmt.Sprintf("reserved for a restarting member · %d", reserved)) {
		t.Error("the legend does not count the reserved partitions")
	}

	// Every partition's standbys, in order, in its cell and tooltip.
	gotStandbys := b.evalStrings(`[...document.querySelectorAll('#grid .cell')].map(c => (c.dataset.standbys || '') + '|' + (c.title.match(/standbys: (.*)/) || ['', ''])[1])`)
	if len(gotStandbys) != len(table.Partitions) {
		t.Fatalf("%d cells, want %d", len(gotStandbys), len(table.Partitions))
	}
	for i, e := range table.Partitions {
		if want := strings.Join(e.Standbys, " ") + "|" + strings.Join(e.Standbys, ", "); gotStandbys[i] != want {
			t.Errorf("partition %d: standbys %q, want %q", e.ID, gotStandbys[i], want)
		}
	}

	// This member's standby list, in the order of GET /partitions/mine.
	if !b.evalBool(shown("standby-block")) {
		t.Error("the standby list is not shown")
	}
	var want []string
	for _, sb := range mine.Standby {
		want = append(want, fmt.Sprintf("%d/%d/%s", sb.ID, sb.Rank, sb.Owner))
	}
	got := b.evalStrings(`[...document.querySelectorAll('#standby li')].map(li => li.dataset.id + '/' + li.dataset.rank + '/' + (li.dataset.owner || ''))`)
	if !slices.Equal(got, want) {
		t.Errorf("standby list %q, want %q", got, want)
	}
	if first := b.evalString(`document.querySelector('#standby li').textContent`); mine.Standby[0].Rank == 0 && !strings.Contains(first, "next") {
		t.Errorf("first standby chip %q does not say it is next in line", first)
	}
	b.screenshot("dashboard-placement.png")

	// Unfrozen: the banner goes, the rest stays.
	b.evalInt(`window.__ringdNoReload = 42`)
	place.frozen = false
	f.setPlacement(place)
	b.until("the frozen banner to go", `!(`+shown("frozen")+`)`)
	if b.evalInt(`window.__ringdNoReload || 0`) != 42 {
		t.Fatal("the page reloaded instead of updating itself")
	}
	if got := b.count(`#grid .cell.pinned`); got != pinned {
		t.Errorf("after unfreezing, %d pinned cells, want %d", got, pinned)
	}

	if p := b.console.list(); len(p) > 0 {
		t.Fatalf("the browser console shows errors:\n%s", strings.Join(p, "\n"))
	}
	if acks := f.recordedAcks(); len(acks) != 0 {
		t.Fatalf("the dashboard acknowledged releases: %v", acks)
	}
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
