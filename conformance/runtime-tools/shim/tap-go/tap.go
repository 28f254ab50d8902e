// Package tap writes Test Anything Protocol (version 13) output.
//
// hull's own implementation of the API the OCI runtime-tools validation
// programs import as github.com/mndrix/tap-go, which no Debian package
// ships. Only the output format matters to consumers: "ok N - desc",
// "not ok N - desc", "# SKIP" / "# TODO" directives, "# " diagnostics,
// YAML blocks framed by "  ---" and "  ...", and a "1..N" plan.
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T is a TAP producer. Copies made by Todo share the test counter.
type T struct {
	next   *int
	todo   bool
	Writer io.Writer
}

// New returns a producer writing to standard output.
func New() *T {
	n := 1
	return &T{next: &n, Writer: os.Stdout}
}

func (t *T) printf(format string, a ...interface{}) {
	fmt.Fprintf(t.Writer, format, a...)
}

// Header prints the version line and, for a known count, the plan.
func (t *T) Header(testCount int) {
	t.printf("TAP version 13\n")
	if testCount > 0 {
		t.printf("1..%d\n", testCount)
	}
}

// Ok records one test result.
func (t *T) Ok(test bool, description string) {
	status := "ok"
	if !test {
		status = "not ok"
	}
	line := fmt.Sprintf("%s %d - %s", status, *t.next, description)
	if t.todo {
		line += " # TODO"
	}
	t.printf("%s\n", line)
	*t.next++
}

// Pass records a passing test.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail records a failing test.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip records count skipped tests.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		t.printf("ok %d # SKIP %s\n", *t.next, description)
		*t.next++
	}
}

// Todo returns a producer whose results carry the TODO directive.
func (t *T) Todo() *T {
	return &T{next: t.next, todo: true, Writer: t.Writer}
}

// Count returns how many tests were recorded so far.
func (t *T) Count() int { return *t.next - 1 }

// AutoPlan prints the plan for the tests recorded so far.
func (t *T) AutoPlan() { t.printf("1..%d\n", t.Count()) }

// Diagnostic prints a comment, one "# " line per line of message.
func (t *T) Diagnostic(message string) {
	for _, line := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		t.printf("# %s\n", line)
	}
}

// Diagnosticf formats and prints a comment.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML prints a structured diagnostic block; JSON is valid YAML.
func (t *T) YAML(message interface{}) error {
	data, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	t.printf("  ---\n  %s\n  ...\n", data)
	return nil
}
