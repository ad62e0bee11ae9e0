package descriptor_test

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/wsc-dev/wsc/descriptor"
)

func ExampleParse() {
	const file = `<jeus-web-dd xmlns="http://www.tmaxsoft.com/xml/ns/jeus" version="8.0">
  <context-path>/chat</context-path>
  <websocket>
    <max-session-idle-timeout-in-millis>999</max-session-idle-timeout-in-millis>
    <websocket-executor><max>64</max></websocket-executor>
    <init-param><name>room.max-users</name><value>100</value></init-param>
    <allowed-origins><origin>https://chat.example.com</origin></allowed-origins>
  </websocket>
</jeus-web-dd>`
	d, err := descriptor.Parse(strings.NewReader(file))
	if err != nil {
		fmt.Println(err)
		return
	}
	users, _ := d.WebSocket.InitParam("room.max-users")
	fmt.Println(d.ContextPath, d.WebSocket.IdleTimeout, d.WebSocket.Executor.Max, users)
	for _, s := range d.Resolved() {
		if s.Note != "default" {
			fmt.Println(strings.TrimSpace(s.Element + ": " + s.Value + " " + s.Note))
		}
	}
	// Output:
	// /chat 1s 64 100
	// context-path: /chat
	// websocket/max-session-idle-timeout-in-millis: 1000 ms (1s) 999 → 1000 (clamped)
	// websocket/websocket-executor/max: 64
	// websocket/init-param: room.max-users = "100"
	// websocket/allowed-origins: https://chat.example.com
}

func ExampleErrors() {
	const file = `<jeus-web-dd>
  <websocket>
    <max-incoming-text-message-buffer-size>8k</max-incoming-text-message-buffer-size>
    <websocket-executor><min>40</min><max>30</max></websocket-executor>
    <distributed-userProperties><enabled>yes</enabled></distributed-userProperties>
  </websocket>
</jeus-web-dd>`
	_, err := descriptor.ParseBytes([]byte(file))
	var errs *descriptor.Errors
	if errors.As(err, &errs) {
		fmt.Println(len(errs.Errs), "problems:")
	}
	fmt.Println(err)
	// Output:
	// 3 problems:
	// descriptor: line 3: /jeus-web-dd/websocket/max-incoming-text-message-buffer-size: not a number: "8k" (want a whole number of bytes)
	// descriptor: line 4: /jeus-web-dd/websocket/websocket-executor/min: min 40 is greater than max 30
	// descriptor: line 5: /jeus-web-dd/websocket/distributed-userProperties/enabled: not a boolean: "yes" (want true or false)
}

func ExampleDescriptor_WriteResolved() {
	d := descriptor.Default()
	_ = d.WriteResolved(os.Stdout)
}
