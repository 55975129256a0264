package csvexport

import (
	"bytes"
	"testing"
	"time"
)

func TestSafeCSV(t *testing.T) {
	got := SafeCells("=cmd()", "+1", "-2", "@x", "plain", "")
	want := []string{"'=cmd()", "'+1", "'-2", "'@x", "plain", ""}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("SafeCSV[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestWriterGuardsEveryCell(t *testing.T) {
	var buf bytes.Buffer
	w, err := New(&buf, "a", "b", "when")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Row("=HYPERLINK(\"x\")", "\tcmd", Time(time.Time{})); err != nil {
		t.Fatal(err)
	}
	if err := w.Row("plain", "x,y", Time(time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	want := "a,b,when\n\"'=HYPERLINK(\"\"x\"\")\",'\tcmd,\nplain,\"x,y\",2026-01-02T02:04:05Z\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
