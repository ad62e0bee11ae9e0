package descriptor

import (
	"errors"
	"strconv"
	"strings"

	"github.com/beevik/etree"
)

// Errors wrapped by an [Error] for problems with the file as a whole; test
// with errors.Is.
var (
	// ErrMalformed is wrapped by the Error of a file that is not
	// well-formed XML. The Error also wraps the decoder's error, an
	// *xml.SyntaxError when encoding/xml located the problem.
	ErrMalformed = errors.New("descriptor: malformed XML")
	// ErrTooLarge is wrapped by the Error of a file larger than
	// MaxFileBytes.
	ErrTooLarge = errors.New("descriptor: file too large")
)

// Error is one problem in a descriptor, located by the path of its element.
type Error struct {
	// File is the file's name when it came from ParseFile, else "".
	File string
	// Line is the 1-based line of the element's start tag, or of the
	// syntax error; 0 when unknown.
	Line int
	// Path is the element's path from the root, such as
	// "/jeus-web-dd/websocket/websocket-executor/max"; an element that
	// repeats among its siblings carries its 1-based index, as in
	// "/jeus-web-dd/websocket/init-param[2]/name". It is "" for problems
	// with the file as a whole.
	Path string
	// Msg says what is wrong and, where it can, what would be right.
	Msg string
	// Err is the underlying error, if any (ErrMalformed, ErrTooLarge).
	Err error

	el *etree.Element // located after the walk
}

// Error returns "descriptor: FILE:LINE: PATH: MSG", leaving out the parts
// that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("descriptor: ")
	switch {
	case e.File != "" && e.Line > 0:
		b.WriteString(e.File + ":" + strconv.Itoa(e.Line) + ": ")
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Line > 0:
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one descriptor, in document order. Parse
// returns it instead of stopping at the first problem, so an admin can fix
// a file in one go.
type Errors struct {
	Errs []*Error
}

// Error lists the problems, one per line.
func (e *Errors) Error() string {
	lines := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap returns the problems, for errors.Is and errors.As.
func (e *Errors) Unwrap() []error {
	errs := make([]error, len(e.Errs))
	for i, err := range e.Errs {
		errs[i] = err
	}
	return errs
}
