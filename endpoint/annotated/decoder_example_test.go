package annotated_test

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/annotated"
	"github.com/wsc-dev/wsc/endpoint/endpointtest"
)

// Point is decoded from text such as "3,4".
type Point struct{ X, Y int }

// Distance answers the squared distance of each point it receives.
type Distance struct {
	annotated.ServerEndpoint `path:"/distance"`
}

func (Distance) OnText(p Point) int { return p.X*p.X + p.Y*p.Y }

func (Distance) OnError(_ endpoint.Session, err error) { fmt.Println("OnError:", err) }

// ExampleTextDecoderFunc registers a decoder for a payload type; a message
// it cannot decode goes to OnError and the session stays open.
func ExampleTextDecoderFunc() {
	decodePoint := annotated.TextDecoderFunc[Point](func(text string) (Point, error) {
		x, y, ok := strings.Cut(text, ",")
		if !ok {
			return Point{}, fmt.Errorf("want x,y")
		}
		px, err1 := strconv.Atoi(x)
		py, err2 := strconv.Atoi(y)
		if err1 != nil || err2 != nil {
			return Point{}, fmt.Errorf("want integers")
		}
		return Point{px, py}, nil
	})
	cfg := annotated.MustConfig(&Distance{}, annotated.WithDecoders(decodePoint))
	s := endpointtest.NewSession(endpointtest.WithRequestURI("/distance"))
	if _, err := s.Connect(cfg); err != nil {
		fmt.Println(err)
		return
	}
	_ = s.ReceiveText("3,4")
	_ = s.ReceiveText("three,four")
	fmt.Println(s.Sent()[0].Text(), s.IsOpen())
	// Output:
	// OnError: annotated: cannot decode a 10-byte message: want integers
	// 25 true
}
