package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// jsonLines decodes every line of buf as one JSON log record.
func jsonLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var recs []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(buf.Bytes()))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func TestMemberlistLoggerInfersLevels(t *testing.T) {
	var buf bytes.Buffer
	ml := MemberlistLogger(NewLogger("info", true, &buf))

	ml.Printf("[DEBUG] memberlist: suppressed at info")
	ml.Printf("[INFO] memberlist: an info line")
	ml.Printf("[WARN] memberlist: x")
	ml.Printf("[ERR] memberlist: an error line")

	recs := jsonLines(t, &buf)
	t.Logf("log output:\n%s", buf.String())
	want := []struct{ level, msg string }{
		{"info", "memberlist: an info line"},
		{"warn", "memberlist: x"},
		{"error", "memberlist: an error line"},
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d log records, want %d (DEBUG must be suppressed at info)", len(recs), len(want))
	}
	for i, w := range want {
		if got := recs[i]["@level"]; got != w.level {
			t.Errorf("record %d: @level = %v, want %q", i, got, w.level)
		}
		if got := recs[i]["@message"]; got != w.msg {
			t.Errorf("record %d: @message = %v, want %q", i, got, w.msg)
		}
		if got := recs[i]["@module"]; got != LogRoot+"."+LogMemberlist {
			t.Errorf("record %d: @module = %v, want %q", i, got, LogRoot+"."+LogMemberlist)
		}
	}
}

func TestMemberlistLoggerDebugShownAtDebug(t *testing.T) {
	var buf bytes.Buffer
	ml := MemberlistLogger(NewLogger("debug", true, &buf))
	ml.Printf("[DEBUG] memberlist: shown")
	recs := jsonLines(t, &buf)
	if len(recs) != 1 || recs[0]["@level"] != "debug" {
		t.Fatalf("got %v, want one debug record", recs)
	}
}

func TestNewLoggerLevels(t *testing.T) {
	// Which of trace..error come out at each configured level.
	all := []string{"trace", "debug", "info", "warn", "error"}
	tests := []struct {
		level string
		want  []string
	}{
		{"trace", all},
		{"debug", all[1:]},
		{"info", all[2:]},
		{"WARN", all[3:]},
		{"error", all[4:]},
		{"", all[2:]},        // unset means info
		{"bogus", all[2:]},   // Resolve refuses it; the logger still works
		{"off", all[2:]},     // not a ringd level: info
		{" Debug ", all[1:]}, // as hclog reads it
	}
	for _, tt := range tests {
		t.Run(tt.level, func(t *testing.T) {
			var buf bytes.Buffer
			l := NewLogger(tt.level, true, &buf)
			l.Trace("m")
			l.Debug("m")
			l.Info("m")
			l.Warn("m")
			l.Error("m")
			var got []string
			for _, rec := range jsonLines(t, &buf) {
				got = append(got, rec["@level"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("levels logged = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNewLoggerTextFormat(t *testing.T) {
	var buf bytes.Buffer
	l := NewLogger("info", false, &buf)
	l.Named(LogElection).Info("became leader", "term", 7)
	line := strings.TrimSpace(buf.String())
	t.Log(line)
	if strings.Contains(line, "{") {
		t.Errorf("text format produced JSON: %q", line)
	}
	for _, want := range []string{"[INFO]", "ringd.election: became leader", "term=7"} {
		if !strings.Contains(line, want) {
			t.Errorf("line %q lacks %q", line, want)
		}
	}
	stamp, _, _ := strings.Cut(line, " ")
	if _, err := time.Parse(LogTimeFormat, stamp); err != nil {
		t.Errorf("line does not start with a %s timestamp: %v", LogTimeFormat, err)
	}
}

func TestNewLoggerJSONTimestamp(t *testing.T) {
	var buf bytes.Buffer
	NewLogger("info", true, &buf).Named(LogTable).Info("applied", "version", 3)
	recs := jsonLines(t, &buf)
	if len(recs) != 1 {
		t.Fatalf("got %d records, want 1", len(recs))
	}
	r := recs[0]
	if r["@module"] != "ringd.table" || r["version"] != float64(3) {
		t.Errorf("record = %v, want module ringd.table and version 3", r)
	}
	if _, err := time.Parse(LogTimeFormat, r["@timestamp"].(string)); err != nil {
		t.Errorf("@timestamp %v: %v", r["@timestamp"], err)
	}
}
