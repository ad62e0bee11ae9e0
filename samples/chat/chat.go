// Package chat is the chat sample (the seed's chat rooms): an annotated
// endpoint at /chat/{room}, the page chat.html, and POST
// /chat/{room}/messages to publish into a room from plain HTTP.
//
// Messages are JSON: {"type":"ENTER"|"TALK"|"QUIT","roomId":…,"sender":…,
// "message":…,"userCount":N}. The server announces ENTER and QUIT itself,
// and every message carries the room's current user count. A client joins
// with ws://HOST/samples/chat/ROOM?sender=NAME and sends
// {"message":"…"} (any "type" or "sender" it sends is replaced: the
// server speaks for the connection).
package chat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wsc-dev/wsc/endpoint"
	"github.com/wsc-dev/wsc/endpoint/annotated"
)

// Message types.
const (
	Enter = "ENTER"
	Talk  = "TALK"
	Quit  = "QUIT"
)

// Message is a chat message.
type Message struct {
	Type      string `json:"type"`
	RoomID    string `json:"roomId"`
	Sender    string `json:"sender"`
	Message   string `json:"message"`
	UserCount int    `json:"userCount"`
}

// Rooms holds the open sessions of every room. It is safe for concurrent
// use.
type Rooms struct {
	mu    sync.Mutex
	rooms map[string]map[endpoint.Session]struct{}
}

// NewRooms returns an empty room registry.
func NewRooms() *Rooms { return &Rooms{rooms: map[string]map[endpoint.Session]struct{}{}} }

func (r *Rooms) join(room string, s endpoint.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rooms[room] == nil {
		r.rooms[room] = map[endpoint.Session]struct{}{}
	}
	r.rooms[room][s] = struct{}{}
}

func (r *Rooms) leave(room string, s endpoint.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.rooms[room], s)
	if len(r.rooms[room]) == 0 {
		delete(r.rooms, room)
	}
}

// Publish sends m to everyone in its room, with the room's user count,
// and returns how many sessions took it. The frame is encoded once.
func (r *Rooms) Publish(m Message) int {
	r.mu.Lock()
	members := make([]endpoint.Session, 0, len(r.rooms[m.RoomID]))
	for s := range r.rooms[m.RoomID] {
		members = append(members, s)
	}
	r.mu.Unlock()
	m.UserCount = len(members)
	b, _ := json.Marshal(m)
	return endpoint.Broadcast(members, endpoint.Text, b)
}

var guests atomic.Int64

// Endpoint is the annotated chat endpoint: one instance per connection.
type Endpoint struct {
	annotated.ServerEndpoint `path:"/chat/{room}" maxText:"65536"`
	// Room is the room the connection joined, from the path.
	Room string `pathparam:"room"`
	// Rooms is shared by every connection (copied from the prototype).
	Rooms *Rooms

	sender string
}

// OnOpen joins the room and announces it.
func (c *Endpoint) OnOpen(s endpoint.Session) {
	c.sender = strings.TrimSpace(s.RequestParameters().Get("sender"))
	if c.sender == "" {
		c.sender = fmt.Sprintf("guest-%d", guests.Add(1))
	}
	c.Rooms.join(c.Room, s)
	c.Rooms.Publish(Message{Type: Enter, RoomID: c.Room, Sender: c.sender, Message: c.sender + " joined"})
}

// OnText publishes what the connection says.
func (c *Endpoint) OnText(m Message) {
	c.Rooms.Publish(Message{Type: Talk, RoomID: c.Room, Sender: c.sender, Message: m.Message})
}

// OnClose leaves the room and announces it.
func (c *Endpoint) OnClose(s endpoint.Session, _ endpoint.CloseReason) {
	c.Rooms.leave(c.Room, s)
	c.Rooms.Publish(Message{Type: Quit, RoomID: c.Room, Sender: c.sender, Message: c.sender + " left"})
}

// OnError drops messages that are not JSON; the session stays open.
func (c *Endpoint) OnError(s endpoint.Session, err error) {}

// Config returns the chat endpoint's deployment over rooms.
func Config(rooms *Rooms) (*endpoint.ServerConfig, error) {
	return annotated.Config(&Endpoint{Rooms: rooms}, annotated.WithCodecs(annotated.JSON[Message]()))
}

// PublishHandler serves POST /chat/{room}/messages with the JSON body
// {"sender":…,"message":…}: a TALK message to everyone in the room. It
// answers {"delivered":N}.
func PublishHandler(rooms *Rooms) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Sender  string `json:"sender"`
			Message string `json:"message"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil || in.Sender == "" {
			http.Error(w, `want {"sender":…,"message":…}`, http.StatusBadRequest)
			return
		}
		n := rooms.Publish(Message{Type: Talk, RoomID: r.PathValue("room"), Sender: in.Sender, Message: in.Message})
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int{"delivered": n})
	})
}
