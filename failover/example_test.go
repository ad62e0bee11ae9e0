package failover_test

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wsc-dev/wsc/failover"
)

// Cart is an application's value kept in the user properties.
type Cart struct{ Items, Cents uint32 }

// MarshalBinary makes Cart replicable once registered.
func (c Cart) MarshalBinary() ([]byte, error) {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, c.Items), c.Cents), nil
}

func init() {
	// Every node registers the type under the same name, in an init.
	failover.Register("example.Cart", func(b []byte) (Cart, error) {
		if len(b) != 8 {
			return Cart{}, errors.New("cart: want 8 bytes")
		}
		return Cart{binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])}, nil
	})
}

// What a node sends for a session's user properties, and what the other
// node gets back: the same Go types, and the keys that stayed behind.
func ExampleRegister() {
	props := map[string]any{
		"count": 3,
		"cart":  Cart{Items: 2, Cents: 1999},
		"conn":  struct{ fd int }{7}, // not replicable: stays on its node
	}
	b, skipped, err := failover.EncodeProperties(nil, props, failover.DefaultLimits())
	if err != nil {
		panic(err)
	}
	got, err := failover.DecodeProperties(b, failover.DefaultLimits())
	if err != nil {
		panic(err)
	}
	fmt.Printf("%T %v\n", got["count"], got["count"])
	fmt.Printf("%T %+v\n", got["cart"], got["cart"])
	fmt.Println("skipped:", skipped)
	// Output:
	// int 3
	// failover_test.Cart {Items:2 Cents:1999}
	// skipped: [conn]
}
